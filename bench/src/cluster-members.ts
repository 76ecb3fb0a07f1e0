/**
 * Cluster members for the cluster rows: `kdelta -d DIR start --port 0 --cluster` (the
 * first) or `--join HOST:PORT` (the others), optionally `--advertise HOST:PORT`, each its
 * own process on 127.0.0.1 with its own data directory. Ready once it printed both
 * `koru: serving DIR at URL` and `koru: cluster member ID at ADDRESS` on stderr. Its JSON
 * log (stdout) is read for warnings and for what it says about snapshots. Processes are
 * registered with procs.ts, so the runner kills them on failure or Ctrl-C.
 */
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { PeerInfo } from '@koru/server';
import { cpuMsOf, spawnTracked, stopProcess } from './procs.js';

const require = createRequire(import.meta.url);

/** `kdelta`'s executable (built by `pnpm build`). */
export const KDELTA_BIN = join(dirname(require.resolve('kdelta/package.json')), 'dist', 'kdelta.js');
/** Its package version, for the results header. */
export const KDELTA_VERSION = (require('kdelta/package.json') as { version: string }).version;

/** What `GET /v1/status` answers (the fields the bench reads). */
export interface MemberStatus {
  readonly node: string;
  readonly seq: number;
  readonly versions: number;
  readonly stateRoot: string;
  readonly cluster: { readonly address: string; readonly members: number } | null;
}


export interface MemberOptions {
  /** A label for logs and notes: A, B, C. */
  readonly name: string;
  readonly dir: string;
  /** `host:port` of a member to join; none starts a cluster (`--cluster`). */
  readonly join?: string;
  /** `host:port` other members dial to reach this one (a proxy in front of it). */
  readonly advertise?: string;
  /** Not a cluster member at all (a plain `kdelta start`, for comparison): ready once it serves. */
  readonly standalone?: boolean;
  /** Extra node options, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
  /** How long to wait for the ready lines (default 60 s: a member reopening a large database takes a while). */
  readonly readyMs?: number;
}

/** A running member. */
export interface Member {
  readonly name: string;
  readonly dir: string;
  readonly pid: number;
  readonly url: string;
  readonly port: number;
  /** Its node id. */
  readonly id: string;
  /** The address other members dial. */
  readonly address: string;
  readonly child: ChildProcess;
  /** performance.now() just before the process was spawned, and when it printed its ready lines. */
  readonly spawnedAt: number;
  readonly readyAt: number;
  /** Log lines at warn level or above (pino level ≥ 40): the count and the first few. */
  readonly logProblems: { count: number; first: string[] };
  /** Log lines about snapshots (`cluster snapshot …`), as logged. */
  readonly snapshotLog: string[];
  status(): Promise<MemberStatus>;
  peers(): Promise<PeerInfo[]>;
  /** CPU time (user + system) used so far, ms (/proc/<pid>/stat). */
  cpuMs(): number | undefined;
  /** True while the process runs. */
  running(): boolean;
  /** SIGTERM (a graceful leave), then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number; killed: boolean }>;
}

async function getJson<T>(url: string, timeoutMs = 30_000): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return (await res.json()) as T;
}

/** Starts a member; rejects (and kills it) if it is not ready in time. */
export function startMember(o: MemberOptions): Promise<Member> {
  const clusterArgs = o.standalone === true ? [] : o.join !== undefined ? ['--join', o.join] : ['--cluster'];
  const args = [...(o.nodeArgs ?? []), KDELTA_BIN, '-d', o.dir, 'start', '--port', '0', ...clusterArgs];
  if (o.advertise !== undefined) args.push('--advertise', o.advertise);
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.KORU_DB_PATH;
  delete env.KORU_CLUSTER_KEY;
  delete env.KORU_TOKEN;
  const spawnedAt = performance.now();
  const child = spawnTracked(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  const logProblems = { count: 0, first: [] as string[] };
  const snapshotLog: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const level = /"level":(\d+)/.exec(line);
    if (level !== null && Number(level[1]) >= 40) {
      logProblems.count++;
      if (logProblems.first.length < 3) logProblems.first.push(line.slice(0, 400));
    }
    if (line.includes('"msg":"cluster snapshot')) snapshotLog.push(line.slice(0, 400));
  });
  let stderr = '';
  const timeoutMs = o.readyMs ?? 60_000;
  return new Promise((resolve, reject) => {
    let served: RegExpExecArray | null = null;
    let member: RegExpExecArray | null = null;
    let done = false;
    const fail = (why: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      void stopProcess(child, 'SIGKILL', 1_000);
      reject(new Error(`member ${o.name} did not start: ${why}${stderr.trim() !== '' ? `; stderr: ${stderr.trim().slice(0, 600)}` : ''}`));
    };
    const timer = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs);
    const onError = (e: Error): void => fail(e.message);
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => fail(`exited ${code ?? signal}`);
    child.once('error', onError);
    child.once('exit', onExit);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      if (stderr.length < 20_000) stderr += `${line}\n`;
      served ??= /^koru: serving .* at (http:\/\/[^\s]+:(\d+))/.exec(line);
      member ??= /^koru: cluster member (\S+) at ([^\s,]+)/.exec(line);
      if (served === null || (member === null && o.standalone !== true) || done) return;
      done = true;
      const readyAt = performance.now();
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('error', onError);
      const url = served[1]!;
      resolve({
        name: o.name,
        dir: o.dir,
        pid: child.pid!,
        url,
        port: Number(served[2]),
        id: member?.[1] ?? '',
        address: member?.[2] ?? '',
        child,
        spawnedAt,
        readyAt,
        logProblems,
        snapshotLog,
        status: () => getJson<MemberStatus>(`${url}/v1/status`),
        peers: async () => (await getJson<{ peers: PeerInfo[] }>(`${url}/v1/cluster/peers`)).peers,
        cpuMs: () => cpuMsOf(child.pid!),
        running: () => child.exitCode === null && child.signalCode === null,
        stop: (graceMs = 20_000) => stopProcess(child, 'SIGTERM', graceMs),
      });
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `/v1/status` of every member every `pollMs` until they all report the same
 * stateRoot (and, if given, `root`). Resolves with the performance.now() of the answer
 * that showed it and the statuses then; rejects after `timeoutMs` with what they reported.
 */
export async function waitSameRoot(
  members: readonly Member[],
  timeoutMs: number,
  options: { pollMs?: number; root?: string; from?: number; onPoll?: (statuses: readonly MemberStatus[], at: number) => void } = {},
): Promise<{ at: number; statuses: MemberStatus[] }> {
  const pollMs = options.pollMs ?? 50;
  const deadline = (options.from ?? performance.now()) + timeoutMs;
  let last: MemberStatus[] = [];
  let lastError: unknown;
  for (;;) {
    try {
      last = await Promise.all(members.map((m) => m.status()));
      const at = performance.now();
      options.onPoll?.(last, at);
      const root = options.root ?? last[0]!.stateRoot;
      if (last.every((s) => s.stateRoot === root)) return { at, statuses: last };
    } catch (e) {
      lastError = e;
    }
    for (const m of members) if (!m.running()) throw new Error(`member ${m.name} exited (${m.child.exitCode ?? m.child.signalCode}) while waiting for the cluster to converge`);
    if (performance.now() >= deadline) {
      const what = last.map((s, i) => `${members[i]!.name}: ${s.versions.toLocaleString('en-US')} versions, root ${s.stateRoot.slice(0, 12)}`).join('; ');
      throw new Error(`no common state root after ${(timeoutMs / 1000).toFixed(0)} s${options.root !== undefined ? ` (wanted ${options.root.slice(0, 12)})` : ''}: ${what}${lastError !== undefined ? `; last error: ${String(lastError)}` : ''}`);
    }
    await sleep(pollMs);
  }
}

/** Waits until every member lists every other as healthy. */
export async function waitHealthy(members: readonly Member[], timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = '';
  for (;;) {
    const lists = await Promise.all(members.map((m) => m.peers().catch(() => [] as PeerInfo[])));
    const ok = members.every((m, i) => members.every((o) => o === m || lists[i]!.some((p) => p.id === o.id && p.state === 'healthy')));
    if (ok) return;
    last = members.map((m, i) => `${m.name} sees ${lists[i]!.map((p) => `${members.find((o) => o.id === p.id)?.name ?? p.id.slice(0, 8)}:${p.state}`).join(',') || 'nobody'}`).join('; ');
    if (performance.now() >= deadline) throw new Error(`members not all healthy after ${timeoutMs / 1000} s: ${last}`);
    await sleep(100);
  }
}

/** What each member thinks of the others, for notes: `A sees B healthy, C unreachable`. */
export async function peerStates(members: readonly Member[]): Promise<string> {
  const lists = await Promise.all(members.map((m) => m.peers().catch(() => undefined)));
  return members
    .map((m, i) => {
      const list = lists[i];
      if (list === undefined) return `${m.name}: no answer`;
      const others = list.map((p) => `${members.find((o) => o.id === p.id)?.name ?? p.id.slice(0, 8)} ${p.state}`);
      return `${m.name} sees ${others.join(', ') || 'nobody'}`;
    })
    .join('; ');
}
