/**
 * `pnpm bench:postgres`: KoruDelta on PostgreSQL against issue 16's targets, in one run on
 * one private PostgreSQL (the test harness's: fsync on, started and stopped here):
 *
 * - 1, 2 and 4 KoruDelta "servers" (a process each, `start({ store })`), 32 operations
 *   outstanding per process: durable puts of distinct keys, then gets of keys that exist;
 * - the floor: plain SQL through the same driver (`pg`, a Pool of KoruDelta's default 10
 *   connections), with the same processes and concurrency: one autocommit INSERT per put,
 *   one SELECT by primary key per get;
 * - the embedded engine, `start({ path, sync: 'always' })`, in one process;
 * - change-feed latency between two servers: one writes 200 awaited puts a second, the
 *   other's subscription records when each arrives.
 *
 * Writes results/postgres-<date>.{md,json} (results/postgres-partial.* with --quick).
 *
 *   tsx src/postgres-bench.ts [--quick] [--profile] [--only koru,sql,embedded,feed]
 *
 * --profile runs the workers under node --cpu-prof (profiles in results/postgres-profiles/);
 * --only measures some subjects, printing their figures and writing results/postgres-partial.json.
 * Every process started here is killed, the server stopped and temporary directories
 * removed, on failure and on Ctrl-C too. Targets missed never change the exit code.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serverProcesses, startPostgres, type PgServer } from '@koru/vitest-preset/postgres';
import pg from 'pg';
import { BENCH_DIR } from './child.js';
import { machineInfo } from './machine.js';
import { cpuMsOf, machineBusy } from './procs.js';
import { merge, pct, ratiosOf, toMarkdown, type FeedFigures, type Measurement, type PhaseFigures, type PostgresRun, type ServerCounters, type Subject, type WindowCpu } from './postgres-report.js';
import type { WorkerArgs, WorkerCommand, WorkerMessage } from './postgres-worker.js';
import type { PostgresRunMessage } from './sections/postgres.js';

const USAGE = 'usage: tsx src/postgres-bench.ts [--quick] [--profile] [--only koru,sql,embedded,feed]';
const PARTS = ['koru', 'sql', 'embedded', 'feed'] as const;
type Part = (typeof PARTS)[number];
let QUICK = false;
let PROFILE = false;
let only: readonly Part[] = PARTS;
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i]!;
  if (a === '--quick') QUICK = true;
  else if (a === '--profile') PROFILE = true;
  else if (a === '--only') {
    const list = (process.argv[++i] ?? '').split(',').filter((p) => p !== '');
    for (const p of list) if (!(PARTS as readonly string[]).includes(p)) throw new Error(`unknown part ${JSON.stringify(p)}\n${USAGE}`);
    only = PARTS.filter((p) => list.includes(p));
  } else throw new Error(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
}
const COMPLETE = only.length === PARTS.length;

const PROCESS_COUNTS = [1, 2, 4] as const;
const CONCURRENCY = 32;
/** KoruDelta's default `maxConnections`; the floor's Pool gets as many. */
const POOL_SIZE = 10;
const WARMUP_MS = QUICK ? 500 : 1_000;
const DURATION_MS = QUICK ? 2_000 : 5_000;
const FEED_RATE = 200;
const FEED_MS = QUICK ? 2_000 : 5_000;
/** Bound on any one answer from a worker (a phase is warm-up + duration + the tail). */
const ANSWER_TIMEOUT_MS = 60_000;

// ---- processes ----------------------------------------------------------------

const live = new Set<ChildProcess>();
const profileDir = join(BENCH_DIR, 'results', 'postgres-profiles');

/** A worker process (./postgres-worker.ts) and its messages, read in order. */
class Worker {
  readonly child: ChildProcess;
  readonly #inbox: WorkerMessage[] = [];
  #wake: (() => void) | undefined;
  #exit: string | undefined;

  constructor(args: WorkerArgs, label: string) {
    const execArgv = ['--import', 'tsx'];
    if (PROFILE) execArgv.push('--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${label}-${Date.now()}.cpuprofile`);
    this.child = fork(fileURLToPath(new URL('./postgres-worker.ts', import.meta.url)), [JSON.stringify(args)], {
      cwd: BENCH_DIR,
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    live.add(this.child);
    this.child.on('message', (m) => {
      this.#inbox.push(m as WorkerMessage);
      this.#wake?.();
    });
    this.child.on('error', (e) => {
      this.#exit = `could not start: ${e.message}`;
      this.#wake?.();
    });
    this.child.on('exit', (code, signal) => {
      live.delete(this.child);
      this.#exit = `exited (${code ?? signal})`;
      this.#wake?.();
    });
  }

  send(command: WorkerCommand): void {
    this.child.send(command);
  }

  /** The next message, which must be of `type`; a failure, an exit or a timeout throws. */
  async next<T extends WorkerMessage['type']>(type: T, timeoutMs = ANSWER_TIMEOUT_MS): Promise<Extract<WorkerMessage, { type: T }>> {
    const until = performance.now() + timeoutMs;
    for (;;) {
      const m = this.#inbox.shift();
      if (m !== undefined) {
        if (m.type === 'failed') throw new Error(`worker ${this.child.pid}: ${m.message}`);
        if (m.type !== type) throw new Error(`worker ${this.child.pid}: expected ${type}, got ${m.type}`);
        return m as Extract<WorkerMessage, { type: T }>;
      }
      if (this.#exit !== undefined) throw new Error(`worker ${this.child.pid} ${this.#exit} while waiting for ${type}`);
      const left = until - performance.now();
      if (left <= 0) throw new Error(`worker ${this.child.pid}: no ${type} in ${timeoutMs / 1000} s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** Closes the subject and waits for the exit (5 s, then SIGKILL). */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      this.send({ type: 'close' });
    } catch {
      // Already gone: the exit below settles it.
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

function killAll(): void {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

// ---- figures ------------------------------------------------------------------

/** CPU time so far of every PostgreSQL process, by pid. */
function postgresCpu(): Map<number, number> {
  const m = new Map<number, number>();
  for (const pid of serverProcesses(server!.dataDir)) m.set(pid, cpuMsOf(pid) ?? 0);
  return m;
}

/** Watches PostgreSQL's and the machine's CPU from now; the result is % of one core each. */
function watchCpu(): () => WindowCpu {
  const t0 = performance.now();
  const pg0 = postgresCpu();
  const busy = machineBusy();
  return () => {
    const elapsed = performance.now() - t0;
    let used = 0;
    // A process that started in the window counts whole: a backend opened late is little.
    for (const [pid, ms] of postgresCpu()) used += ms - (pg0.get(pid) ?? 0);
    return { postgres: (used * 100) / elapsed, machine: (busy() * cores) };
  };
}

async function serverCounters(admin: pg.Client, database: string): Promise<ServerCounters> {
  const r = await admin.query<{ commits: string; wal_sync: string; wal_write: string; wal_bytes: string; wal_records: string }>(
    'SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = $1) AS commits, wal_sync, wal_write, wal_bytes, wal_records FROM pg_stat_wal',
    [database],
  );
  let calls = 0;
  let ms = 0;
  try {
    // Per database: read through a connection to it.
    const c = new pg.Client({ connectionString: databaseUrl(database) });
    await c.connect();
    try {
      const f = await c.query<{ calls: string; total_time: number }>("SELECT calls, total_time FROM pg_stat_user_functions WHERE funcname = 'koru_commit'");
      calls = Number(f.rows[0]?.calls ?? 0);
      ms = Number(f.rows[0]?.total_time ?? 0);
    } finally {
      await c.end();
    }
  } catch {
    // No koru_commit (the floor's database): zero.
  }
  const row = r.rows[0]!;
  return {
    commits: Number(row.commits),
    walSyncs: Number(row.wal_sync),
    walWrites: Number(row.wal_write),
    walBytes: Number(row.wal_bytes),
    walRecords: Number(row.wal_records),
    commitCalls: calls, commitFunctionMs: ms };
}

function diff(a: ServerCounters, b: ServerCounters): ServerCounters {
  return {
    commits: b.commits - a.commits,
    walSyncs: b.walSyncs - a.walSyncs,
    walWrites: b.walWrites - a.walWrites,
    walBytes: b.walBytes - a.walBytes,
    walRecords: b.walRecords - a.walRecords,
    commitCalls: b.commitCalls - a.commitCalls,
    commitFunctionMs: b.commitFunctionMs - a.commitFunctionMs,
  };
}

// ---- the run ------------------------------------------------------------------

let server: PgServer | undefined;
let admin: pg.Client | undefined;
const scratch = mkdtempSync(join(tmpdir(), 'koru-pg-bench-'));

function databaseUrl(name: string): string {
  const u = new URL(server!.url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function cleanUp(): Promise<void> {
  killAll();
  await admin?.end().catch(() => undefined);
  await server?.stop().catch(() => undefined);
  rmSync(scratch, { recursive: true, force: true });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    rmSync(scratch, { recursive: true, force: true });
    // Once PostgreSQL is started, the harness's own signal hook stops it and re-raises
    // the signal; before that, nothing else ends the process.
    if (process.listenerCount(signal) === 0) process.exit(130);
  });
}
process.once('exit', () => {
  killAll();
  rmSync(scratch, { recursive: true, force: true });
});

async function measure(subject: Subject, processes: number): Promise<Measurement> {
  let target: string;
  let database: string | undefined;
  if (subject === 'embedded') {
    target = mkdtempSync(join(scratch, 'embedded-'));
  } else {
    database = `${subject}_${processes}`;
    target = await server!.createDatabase(database);
    if (subject === 'sql') {
      const c = new pg.Client({ connectionString: target });
      await c.connect();
      await c.query('CREATE TABLE floor (key text COLLATE "C" PRIMARY KEY, doc jsonb NOT NULL)');
      await c.end();
    }
  }
  // Puts and gets each run in fresh processes: closing the put processes ends their
  // PostgreSQL sessions, which flushes the sessions' statistics, so the counters read
  // then cover exactly the puts (the floor's SELECTs would count as commits too).
  const phase = async (type: 'put' | 'get', keys: readonly number[]): Promise<{ figures: PhaseFigures; written: number[] }> => {
    const workers = Array.from({ length: processes }, (_, id) => new Worker({ subject, target, id, poolSize: POOL_SIZE, written: keys[id] ?? 0 }, `${subject}-${processes}-${type}-${id}`));
    try {
      await Promise.all(workers.map((w) => w.next('ready')));
      for (const w of workers) w.send({ type, concurrency: CONCURRENCY, warmupMs: WARMUP_MS, durationMs: DURATION_MS });
      // CPU is read over the measured window: from the end of the warm-up to the last answer.
      let stop: (() => WindowCpu) | undefined;
      const timer = setTimeout(() => (stop = watchCpu()), WARMUP_MS);
      const answers = await Promise.all(workers.map((w) => w.next('phase')));
      clearTimeout(timer);
      const cpu = stop?.() ?? { postgres: Number.NaN, machine: Number.NaN };
      return { figures: merge(answers, cpu), written: answers.map((a) => a.written) };
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
  };
  const before = database !== undefined ? await serverCounters(admin!, database) : undefined;
  const put = await phase('put', []);
  // A session's statistics reach the shared counters as it exits, a moment after the close.
  await new Promise((r) => setTimeout(r, 500));
  const after = database !== undefined ? await serverCounters(admin!, database) : undefined;
  const get = await phase('get', put.written);
  const putsTotal = put.written.reduce((a, b) => a + b, 0);
  return { subject, processes, put: put.figures, get: get.figures, putsTotal, ...(before !== undefined && after !== undefined ? { putServer: diff(before, after) } : {}) };
}

async function feed(): Promise<FeedFigures> {
  const target = await server!.createDatabase('feed');
  const writer = new Worker({ subject: 'koru', target, id: 0, poolSize: POOL_SIZE, written: 0 }, 'feed-writer');
  const reader = new Worker({ subject: 'koru', target, id: 1, poolSize: POOL_SIZE, written: 0 }, 'feed-reader');
  try {
    await Promise.all([writer.next('ready'), reader.next('ready')]);
    const expect = Math.round((FEED_RATE * FEED_MS) / 1000);
    reader.send({ type: 'feed-read', expect, timeoutMs: FEED_MS + 30_000 });
    await reader.next('subscribed');
    writer.send({ type: 'feed-write', rate: FEED_RATE, durationMs: FEED_MS });
    const w = await writer.next('feed-written', FEED_MS + 60_000);
    const r = await reader.next('feed-seen', FEED_MS + 60_000);
    let outOfOrder = 0;
    for (let k = 1; k < r.index.length; k++) if (r.index[k]! <= r.index[k - 1]!) outOfOrder++;
    const latency = [...r.latencyMs].sort((a, b) => a - b);
    const afterAck = r.index.map((i, k) => r.receivedAt[k]! - w.ackedAt[i]!).filter(Number.isFinite).sort((a, b) => a - b);
    const put = w.sentAt.map((s, i) => w.ackedAt[i]! - s).filter(Number.isFinite).sort((a, b) => a - b);
    return {
      written: w.sentAt.length - w.errors,
      seen: r.index.length,
      errors: w.errors,
      outOfOrder,
      p50Ms: pct(latency, 50),
      p99Ms: pct(latency, 99),
      maxMs: latency[latency.length - 1] ?? Number.NaN,
      afterAckP50Ms: pct(afterAck, 50),
      afterAckP99Ms: pct(afterAck, 99),
      afterAckMaxMs: afterAck[afterAck.length - 1] ?? Number.NaN,
      putP50Ms: pct(put, 50),
      putP99Ms: pct(put, 99),
    };
  } finally {
    await Promise.all([writer.close(), reader.close()]);
  }
}

// ---- report -------------------------------------------------------------------

const num = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');
const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '—');

const machine = machineInfo();
const cores = machine.cores;
const loadBefore = loadavg();
const t0 = performance.now();
const measurements: Measurement[] = [];
let feedFigures: FeedFigures | undefined;
let pgVersion = 'unknown';
let exitCode = 0;

try {
  if (PROFILE) mkdirSync(profileDir, { recursive: true });
  console.log(`[postgres bench${QUICK ? ', quick' : ''}] ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);
  // track_functions: PostgreSQL counts koru_commit's calls and time, to say where a put's time goes.
  server = await startPostgres({ settings: { track_functions: 'pl' } });
  admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  pgVersion = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
  const fsync = (await admin.query<{ fsync: string }>('SHOW fsync')).rows[0]!.fsync;
  const syncMethod = (await admin.query<{ wal_sync_method: string }>('SHOW wal_sync_method')).rows[0]!.wal_sync_method;
  console.log(`[postgres bench] PostgreSQL ${pgVersion} (fsync ${fsync}, ${syncMethod}) on port ${server.port}`);

  for (const n of PROCESS_COUNTS) {
    for (const subject of (['koru', 'sql'] as const).filter((p) => only.includes(p))) {
      const m = await measure(subject, n);
      measurements.push(m);
      console.log(
        `[${subject} × ${n}] put ${num(m.put.opsPerSec)}/s p50 ${ms(m.put.p50Ms)} p99 ${ms(m.put.p99Ms)} ms (${m.put.errors} errors, ${m.putServer?.commits ?? 0} commits, ${m.putServer?.walSyncs ?? 0} WAL syncs) · get ${num(m.get.opsPerSec)}/s p50 ${ms(m.get.p50Ms)} p99 ${ms(m.get.p99Ms)} ms (${m.get.errors} errors)`,
      );
      if (m.put.firstError !== undefined) console.log(`  first put error: ${m.put.firstError}`);
      if (m.get.firstError !== undefined) console.log(`  first get error: ${m.get.firstError}`);
    }
  }
  if (only.includes('embedded')) {
    const e = await measure('embedded', 1);
    measurements.push(e);
    console.log(`[embedded × 1] put ${num(e.put.opsPerSec)}/s p99 ${ms(e.put.p99Ms)} ms · get ${num(e.get.opsPerSec)}/s p99 ${ms(e.get.p99Ms)} ms`);
  }
  if (only.includes('feed')) {
    feedFigures = await feed();
    console.log(`[feed] ${feedFigures.seen}/${feedFigures.written} seen; p50 ${ms(feedFigures.p50Ms)} p99 ${ms(feedFigures.p99Ms)} max ${ms(feedFigures.maxMs)} ms`);
  }
} catch (e) {
  console.error(`[postgres bench] failed: ${(e as Error).stack ?? String(e)}`);
  exitCode = 1;
} finally {
  await cleanUp();
}

const loadAfter = loadavg();
const durationS = (performance.now() - t0) / 1000;

if (exitCode === 0 && !COMPLETE) {
  const outDir = join(BENCH_DIR, 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'postgres-partial.json'), `${JSON.stringify({ machine, postgres: pgVersion, loadBefore, loadAfter, only, measurements, feed: feedFigures }, null, 2)}\n`);
  console.log(`Wrote results/postgres-partial.json in ${Math.round(durationS)} s.`);
} else if (exitCode === 0 && feedFigures !== undefined) {
  const run: PostgresRun = {
    quick: QUICK,
    machine,
    postgres: pgVersion,
    loadBefore,
    loadAfter,
    durationSeconds: durationS,
    settings: { processCounts: PROCESS_COUNTS, concurrency: CONCURRENCY, poolSize: POOL_SIZE, warmupMs: WARMUP_MS, durationMs: DURATION_MS, feedRate: FEED_RATE, feedMs: FEED_MS },
    measurements,
    feed: feedFigures,
  };
  const md = toMarkdown(run);
  const outDir = join(BENCH_DIR, 'results');
  mkdirSync(outDir, { recursive: true });
  const name = QUICK ? 'postgres-partial' : `postgres-${machine.date.slice(0, 10)}`;
  writeFileSync(join(outDir, `${name}.md`), md);
  writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify({ ...run, ratios: ratiosOf(run) }, null, 2)}\n`);
  // Under `pnpm bench` (./sections/postgres.ts) the runner takes its rows from the run.
  if (process.send !== undefined) {
    await new Promise<void>((resolve) => process.send!({ type: 'postgres-run', run, ratios: ratiosOf(run), page: name } satisfies PostgresRunMessage, undefined, {}, () => resolve()));
    process.disconnect();
  }
  console.log(`\n${md}`);
  console.log(`Wrote results/${name}.md and results/${name}.json in ${Math.round(durationS)} s.`);
}
process.exitCode = exitCode;
