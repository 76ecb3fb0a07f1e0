// Shared helpers of the server tests (not a test file itself).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tempDir } from '@koru/vitest-preset/helpers';
import WebSocket from 'ws';
import { startServer, type KoruServer, type ServerOptions } from '../src/index.js';

export const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

/** Starts the server executable; resolves once it printed its URL. The caller kills it. */
export async function spawnServer(args: readonly string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [BIN, '--port', '0', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stdout!.resume();
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 20_000);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const m = /at (http:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited ${code}: ${err}`));
    });
  });
  return { child, url, stderr: () => err };
}

/** Waits for a child to exit (SIGKILL after `ms`). */
export function exited(child: ChildProcess, ms = 20_000): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** A WebSocket session: hello, then calls by id and pushed events. */
export class Session {
  readonly events: unknown[] = [];
  readonly ends: unknown[] = [];
  #next = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: unknown; type?: string; event?: unknown };
      if (m.type === 'event') this.events.push(m.event);
      else if (m.type === 'end') this.ends.push(m);
      else if (m.id !== undefined) {
        const p = this.#pending.get(m.id);
        this.#pending.delete(m.id);
        if (m.error !== undefined) p?.reject(m.error);
        else p?.resolve(m.result);
      }
    });
  }

  static async open(url: string, hello: Record<string, unknown> = { type: 'hello', protocol: 1 }, headers: Record<string, string> = {}): Promise<{ session: Session; welcome: unknown }> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/ws`, { headers });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const welcome = new Promise<unknown>((resolve, reject) => {
      ws.once('message', (d) => resolve(JSON.parse(d.toString())));
      ws.once('close', (code, reason) => reject(new Error(`closed ${code} ${reason.toString()}`)));
    });
    ws.send(JSON.stringify(hello));
    return { session: new Session(ws), welcome: await welcome };
  }

  call(method: string, ...params: unknown[]): Promise<unknown> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * Starts a server in this process on a fresh directory and a free port; `cleanups` (run
 * by the test file's afterEach) closes it and removes the directory.
 */
export async function startTestServer(cleanups: Array<() => unknown>, prefix: string, options: ServerOptions = {}): Promise<KoruServer> {
  const t = tempDir(prefix);
  const s = await startServer({ path: t.dir, port: 0, log: 'silent', ...options });
  cleanups.push(t.cleanup, () => s.close());
  return s;
}
