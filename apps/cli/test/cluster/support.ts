// Real cluster members for the tests: `kdelta start` processes on port 0 with fresh data
// directories, 127.0.0.1 only. Every process started here is killed by `stopAll()`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from '../run.js';

/** A running member. */
export interface Member {
  /** Its node id (persisted in its data directory). */
  readonly id: string;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** What other members dial (its own address, or a proxy's given as `advertise`). */
  readonly address: string;
  readonly dir: string;
  readonly proc: ChildProcess;
  /** The token it was started with (sent by {@link call}). */
  readonly token?: string;
  /** Everything it wrote so far: stderr (its start lines) and stdout (its JSON log lines). */
  log(): string;
  /** SIGTERM (a graceful leave); resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL; resolves once it is gone. */
  kill(): Promise<void>;
}

/** Options of {@link startMember}. */
export interface MemberOptions {
  /** Data directory (default: a fresh temporary one, removed by `stopAll`). */
  readonly dir?: string;
  /** `host:port` of members to join; none: a plain `kdelta start` (others can join it). */
  readonly join?: readonly string[];
  readonly key?: string;
  /** `--token`: clients and peers must hold it. */
  readonly token?: string;
  /** The port (default 0: a free one). */
  readonly port?: number;
  /** `host:port` to advertise (e.g. a proxy in front of it). */
  readonly advertise?: string;
  /** Command and arguments to run node under (it and its children are signalled as one group). */
  readonly wrapper?: readonly string[];
  readonly env?: Record<string, string>;
  /** Milliseconds to wait for it to be ready (default 15,000). */
  readonly readyMs?: number;
}

const running = new Set<ChildProcess>();
const dirs: string[] = [];

/** A fresh temporary data directory, removed by {@link stopAll}. */
export function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'koru-cluster-'));
  dirs.push(dir);
  return dir;
}

/** Starts `kdelta start` as a cluster member and waits until it serves. */
export async function startMember(o: MemberOptions = {}): Promise<Member> {
  const dir = o.dir ?? join(freshDir(), 'db');
  const args = [BIN, '-d', dir, 'start', '--port', String(o.port ?? 0), ...(o.join ?? []).flatMap((a) => ['--join', a])];
  if (o.key !== undefined) args.push('--cluster-key', o.key);
  if (o.token !== undefined) args.push('--token', o.token);
  if (o.advertise !== undefined) args.push('--advertise', o.advertise);
  const env: NodeJS.ProcessEnv = { ...process.env, ...o.env };
  delete env.KORU_DB_PATH;
  delete env.KORU_CLUSTER_KEY;
  delete env.KORU_TOKEN;
  delete env.KORU_PORT;
  delete env.PORT;
  const [cmd, ...pre] = o.wrapper !== undefined ? [...o.wrapper, process.execPath] : [process.execPath];
  // Its own process group, so a wrapper's child (faketime runs node as one) dies with it.
  const proc = spawn(cmd!, [...pre, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  let err = '';
  let out = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const ready = await new Promise<{ url: string; id: string; address: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`member did not start in time: ${err}`)), o.readyMs ?? 15_000);
    const check = (): void => {
      const served = /serving \S+ at (http:\/\/\S+)/.exec(err);
      const member = /cluster member (\S+) at (\S+?)[,\s]/.exec(err);
      if (served && member) {
        clearTimeout(timer);
        proc.stderr!.off('data', check);
        resolve({ url: served[1]!, id: member[1]!, address: member[2]! });
      }
    };
    proc.stderr!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`member exited ${code}: ${err}`));
    });
  });
  const gone = new Promise<number | null>((resolve) => (proc.exitCode !== null ? resolve(proc.exitCode) : proc.once('exit', (code) => resolve(code))));
  return {
    ...ready,
    ...(o.token !== undefined ? { token: o.token } : {}),
    port: Number(new URL(ready.url).port),
    dir,
    proc,
    log: () => err + out,
    stop: async () => {
      signal(proc, 'SIGTERM');
      return gone;
    },
    kill: async () => {
      signal(proc, 'SIGKILL');
      await gone;
    },
  };
}

/** Sends `sig` to a member's whole process group (the member and anything it runs under). */
function signal(p: ChildProcess, sig: NodeJS.Signals): void {
  if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return;
  try {
    process.kill(-p.pid, sig);
  } catch {
    p.kill(sig);
  }
}

/** Kills every member still running and removes the temporary directories. */
export async function stopAll(): Promise<void> {
  await Promise.all(
    [...running].map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          p.once('exit', () => resolve());
          signal(p, 'SIGKILL');
        }),
    ),
  );
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A JSON request to a member; resolves with status and body. */
export async function call(m: Pick<Member, 'url' | 'token'>, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {
    ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...(m.token !== undefined ? { authorization: `Bearer ${m.token}` } : {}),
  };
  const res = await fetch(`${m.url}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

/** `/v1/status` of a member. */
export async function status(m: Pick<Member, 'url' | 'token'>): Promise<{ node: string; stateRoot: string; versions: number; seq: number }> {
  return (await call(m, 'GET', '/v1/status')).body;
}

/** `/v1/cluster/peers` of a member. */
export async function peers(m: Pick<Member, 'url' | 'token'>): Promise<Array<{ id: string; address: string; state: string; lastSeen: string | null; replicationLagMs: number }>> {
  return (await call(m, 'GET', '/v1/cluster/peers')).body.peers;
}

/** Polls `cond` every 50 ms until it holds; fails after `timeoutMs` naming `what`. */
export async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await cond()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last !== undefined ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves once every member reports the same state root (and returns it). */
export async function converged(members: readonly Member[], timeoutMs = 20_000): Promise<string> {
  let root = '';
  await waitFor(
    'the same state root on every member',
    async () => {
      const roots = await Promise.all(members.map(async (m) => (await status(m)).stateRoot));
      root = roots[0]!;
      return roots.every((r) => r === root);
    },
    timeoutMs,
  );
  return root;
}

/** Every version id in a member's history of `ns/key` (empty when it has none). */
export async function historyIds(m: Pick<Member, 'url' | 'token'>, ns: string, key: string): Promise<string[]> {
  const r = await call(m, 'GET', `/v1/kv/${encodeURIComponent(ns)}/${encodeURIComponent(key)}/history`);
  return r.status === 200 ? (r.body as Array<{ versionId: string }>).map((v) => v.versionId) : [];
}

/** The JSON log records (pino, one a line, on stdout) of a member whose `msg` is `msg`. */
export function logRecords(m: Member, msg: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of m.log().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const r = JSON.parse(line) as Record<string, unknown>;
      if (r.msg === msg) out.push(r);
    } catch {
      // The last line may still be arriving.
    }
  }
  return out;
}
