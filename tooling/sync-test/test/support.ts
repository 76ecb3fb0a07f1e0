// Shared helpers of the sync tests (not a test file itself): real servers on
// 127.0.0.1:0, durable local databases in temp dirs, a TCP proxy that can cut the link.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { KoruDelta } from '@koru/delta';
import { startServer, type KoruServer } from '@koru/server';
import { tempDir } from '@koru/vitest-preset/helpers';

const cleanups: Array<() => Promise<void> | void> = [];

/** Runs every cleanup registered (servers, databases, proxies, temp dirs), newest first. */
export async function cleanupAll(): Promise<void> {
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()!();
    } catch {
      // Closed already.
    }
  }
}

/** A fresh temp dir, removed by {@link cleanupAll}. */
export function freshDir(prefix = 'koru-sync-'): string {
  const t = tempDir(prefix);
  cleanups.push(t.cleanup);
  return t.dir;
}

/** A real server on a durable database in `dir` (a fresh one by default), on a free loopback port. */
export async function server(dir = freshDir(), token?: string): Promise<KoruServer> {
  const s = await startServer({ path: dir, port: 0, cluster: false, log: 'silent', ...(token !== undefined ? { token } : {}) });
  cleanups.push(() => s.close());
  return s;
}

/** A durable local database in `dir` (a fresh one by default). */
export async function local(dir = freshDir()): Promise<KoruDelta> {
  const db = await KoruDelta.start({ path: dir });
  cleanups.push(() => db.close());
  return db;
}

/** Polls `cond` every 5 ms until it holds (fails after `ms`). */
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Every version of a database, as `namespace/key/versionId`, sorted. */
export function allVersionIds(db: KoruDelta): string[] {
  const out: string[] = [];
  for (const v of db.storage.committed()) if (v.namespace !== '_koru') out.push(`${v.namespace}/${v.key}/${v.versionId}`);
  return out.sort();
}

/** Each key's head (the last of its history in clock order), as `namespace/key=versionId`, sorted. */
export function heads(db: KoruDelta): string[] {
  const keys = new Set<string>();
  for (const v of db.storage.committed()) if (v.namespace !== '_koru') keys.add(JSON.stringify([v.namespace, v.key]));
  return [...keys].map((k) => {
    const [ns, key] = JSON.parse(k) as [string, string];
    return `${ns}/${key}=${db.storage.history(ns, key).at(-1)!.versionId}`;
  }).sort();
}

/** A TCP proxy to `target` that can cut every connection and refuse new ones while down. */
export class Proxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #up = true;
  /** Bytes forwarded from clients to the target so far. */
  upBytes = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Listens on a free loopback port, forwarding to `targetPort`. */
  static async start(targetPort: number): Promise<Proxy> {
    let proxy!: Proxy;
    const server = createServer((client) => {
      if (!proxy.#up) return void client.destroy();
      const upstream = connect(targetPort, '127.0.0.1');
      proxy.#sockets.add(client);
      proxy.#sockets.add(upstream);
      client.on('data', (d: Buffer) => {
        proxy.upBytes += d.length;
        upstream.write(d);
      });
      upstream.on('data', (d: Buffer) => client.write(d));
      const end = (): void => {
        client.destroy();
        upstream.destroy();
        proxy.#sockets.delete(client);
        proxy.#sockets.delete(upstream);
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
    proxy = new Proxy(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => proxy.close());
    return proxy;
  }

  /** `http://127.0.0.1:<port>` of the proxy. */
  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Cuts every connection and refuses new ones until {@link restore}. */
  cut(): void {
    this.#up = false;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
  }

  /** Lets connections through again. */
  restore(): void {
    this.#up = true;
  }

  /** Stops listening and cuts everything. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}
