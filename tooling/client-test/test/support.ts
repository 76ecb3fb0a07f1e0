// Real server processes for the client tests (not a test file itself): the built
// apps/server executable on a fresh temporary directory, its URL parsed from the ready
// line on stderr. Every process started here is killed by `stopAllServers()`.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tempDir } from '@koru/vitest-preset/helpers';
import { expect } from 'vitest';
import { KoruError } from '@koru/client';

/** The server executable (build it with `pnpm --filter @koru/server... build`). */
export const SERVER_BIN = fileURLToPath(new URL('../../../apps/server/dist/bin.js', import.meta.url));

/** A running server process. */
export interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Sends `signal` (default SIGTERM, a graceful close) and resolves with the exit code; SIGKILL after `ms`. */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<number | null>;
}

const running = new Set<ServerProcess>();
const dirs: Array<() => void> = [];

/** A fresh data directory, removed by `stopAllServers()`. */
export function freshDir(): string {
  const { dir, cleanup } = tempDir('koru-client-');
  dirs.push(cleanup);
  return dir;
}

/**
 * Starts a server (fresh directory and free port unless given); resolves once it is
 * serving. `join`: `host:port` of cluster members it joins.
 */
export async function startServer(options: { dir?: string; port?: number; token?: string; join?: readonly string[] } = {}): Promise<ServerProcess> {
  if (!existsSync(SERVER_BIN)) throw new Error(`${SERVER_BIN} is missing: build the server first (pnpm --filter @koru/server... build)`);
  const dir = options.dir ?? freshDir();
  const args = [
    SERVER_BIN,
    '--port',
    String(options.port ?? 0),
    '-d',
    dir,
    ...(options.token !== undefined ? ['--token', options.token] : []),
    ...(options.join ?? []).flatMap((address) => ['--join', address]),
  ];
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.KORU_TOKEN;
  delete env.KORU_DB_PATH;
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', ms = 10_000): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
      running.delete(server);
    }
  };
  let server!: ServerProcess;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start within 20 s: ${err}`)), 20_000);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /koru: serving .* at (http:\/\/[^\s]+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before serving: ${err}`));
    });
    server = { child, url: '', port: 0, dir, stderr: () => err, stop };
    running.add(server);
  }).catch(async (e: unknown) => {
    await stop('SIGKILL');
    throw e;
  });
  Object.assign(server, { url, port: Number(new URL(url).port) });
  return server;
}

/** Kills every server still running (SIGKILL) and removes the temporary directories. */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop('SIGKILL', 5_000)));
  for (const cleanup of dirs.splice(0)) cleanup();
}

/** Resolves once `check()` is true; fails after `ms`. */
export async function waitFor(check: () => boolean, ms = 10_000, what = 'the condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Awaits `p`, which must reject with a KoruError of `code`; returns the error. */
export async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<KoruError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e, `expected ${code}, but it succeeded`).toBeInstanceOf(KoruError);
  expect((e as KoruError).code, (e as KoruError).message).toBe(code);
  if (message !== undefined) expect((e as KoruError).message).toMatch(message);
  return e as KoruError;
}

/**
 * A TCP forwarder to a local port that can refuse new connections: a client behind it
 * stays away (reconnecting) for exactly as long as a test wants.
 */
export class Gate {
  open = true;
  readonly #server: import('node:net').Server;
  readonly #sockets = new Set<import('node:net').Socket>();

  private constructor(server: import('node:net').Server) {
    this.#server = server;
  }

  static async start(targetPort: number): Promise<Gate> {
    const net = await import('node:net');
    const server = net.createServer();
    const gate = new Gate(server);
    server.on('connection', (client) => {
      if (!gate.open) return void client.destroy();
      const upstream = net.connect(targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        gate.#sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          gate.#sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    gates.add(gate);
    return gate;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as import('node:net').AddressInfo).port}`;
  }

  close(): Promise<void> {
    gates.delete(this);
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

const gates = new Set<Gate>();

/** Closes every gate still open. */
export async function closeAllGates(): Promise<void> {
  await Promise.all([...gates].map((g) => g.close()));
}
