/**
 * The figures of `pnpm bench:postgres` (./postgres-bench.ts) and their report: the table,
 * issue 16's targets with a verdict each, and what bounds each figure, worked out from the
 * run's own counters (CPU of the workers and of PostgreSQL, WAL, commit-function calls).
 */
import type { MachineInfo } from './machine.js';
import type { WorkerMessage } from './postgres-worker.js';

/** Issue 16's targets. */
export const TARGETS = { putRatio: 1.5, getRatio: 1.2, feedP99Ms: 50 } as const;

export function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

/** One op type of one measurement, merged over its processes. */
export interface PhaseFigures {
  readonly opsPerSec: number;
  readonly ops: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** CPU time of the workers over the window, % of one core, summed over processes. */
  readonly workerCpuPct: number;
  /** CPU time of PostgreSQL's processes (backends, WAL writer, …) over the window, % of one core. */
  readonly postgresCpuPct: number;
  /** How busy the whole machine was over the window, % of one core (100 × cores at most). */
  readonly machineCpuPct: number;
  readonly firstError?: string;
}

/** CPU over a measured window, % of one core. */
export interface WindowCpu {
  readonly postgres: number;
  readonly machine: number;
}

/** Merges the processes' answers of one phase: ops add up, latencies merge. */
export function merge(answers: ReadonlyArray<Extract<WorkerMessage, { type: 'phase' }>>, cpu: WindowCpu): PhaseFigures {
  const all: number[] = [];
  let ops = 0;
  let errors = 0;
  let workerCpu = 0;
  let firstError: string | undefined;
  for (const a of answers) {
    for (const l of a.latencyUs) all.push(l);
    ops += a.ops;
    errors += a.errors;
    workerCpu += a.cpuMs;
    firstError ??= a.firstError;
  }
  all.sort((a, b) => a - b);
  const windowMs = answers[0]!.windowMs;
  return {
    opsPerSec: (ops * 1000) / windowMs,
    ops,
    errors,
    p50Ms: pct(all, 50) / 1000,
    p99Ms: pct(all, 99) / 1000,
    maxMs: (all[all.length - 1] ?? Number.NaN) / 1000,
    workerCpuPct: (workerCpu * 100) / windowMs,
    postgresCpuPct: cpu.postgres,
    machineCpuPct: cpu.machine,
    ...(firstError !== undefined ? { firstError } : {}),
  };
}

/** What PostgreSQL counted over a put phase: commits, WAL, and the commit function's calls and time. */
export interface ServerCounters {
  readonly commits: number;
  readonly walSyncs: number;
  readonly walWrites: number;
  readonly walBytes: number;
  readonly walRecords: number;
  readonly commitCalls: number;
  readonly commitFunctionMs: number;
}

export type Subject = 'koru' | 'sql' | 'embedded';

/** A measurement: one subject, its processes, both phases, PostgreSQL's counters over the puts. */
export interface Measurement {
  readonly subject: Subject;
  readonly processes: number;
  readonly put: PhaseFigures;
  readonly get: PhaseFigures;
  readonly putServer?: ServerCounters;
  /** Puts of the put phase, warm-up included (what the server counters cover). */
  readonly putsTotal: number;
}

export interface FeedFigures {
  readonly written: number;
  readonly seen: number;
  readonly errors: number;
  readonly outOfOrder: number;
  /** From just before the put was called until the other server's handler ran. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** From the put's acknowledgement until the other server's handler ran. */
  readonly afterAckP50Ms: number;
  readonly afterAckP99Ms: number;
  readonly afterAckMaxMs: number;
  /** The writer's own put latency. */
  readonly putP50Ms: number;
  readonly putP99Ms: number;
}

/** Everything a complete run measured, and how. */
export interface PostgresRun {
  readonly quick: boolean;
  readonly machine: MachineInfo;
  readonly postgres: string;
  readonly loadBefore: readonly number[];
  readonly loadAfter: readonly number[];
  readonly durationSeconds: number;
  readonly settings: { readonly processCounts: readonly number[]; readonly concurrency: number; readonly poolSize: number; readonly warmupMs: number; readonly durationMs: number; readonly feedRate: number; readonly feedMs: number };
  readonly measurements: readonly Measurement[];
  readonly feed: FeedFigures;
}

/** floor ops/s ÷ KoruDelta ops/s, per process count. */
export interface Ratio {
  readonly n: number;
  readonly put: number;
  readonly get: number;
}

const num = (x: number, digits = 0): string => (Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '—');
const ms = (x: number): string => (Number.isFinite(x) ? (x < 10 ? x.toFixed(2) : x.toFixed(1)) : '—');
/** Whole ms: the change feed's times are Date.now() differences. */
const wholeMs = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '—');
/** µs of CPU an operation, from % of a core and ops/s. */
const usPerOp = (cpuPct: number, opsPerSec: number): number => (cpuPct * 10_000) / opsPerSec;
const range = (xs: readonly number[]): string => {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return Math.round(lo) === Math.round(hi) ? num(lo) : `${num(lo)}–${num(hi)}`;
};

export function ratiosOf(run: PostgresRun): Ratio[] {
  return run.settings.processCounts.map((n) => {
    const k = find(run, 'koru', n);
    const f = find(run, 'sql', n);
    return { n, put: f.put.opsPerSec / k.put.opsPerSec, get: f.get.opsPerSec / k.get.opsPerSec };
  });
}

function find(run: PostgresRun, subject: Subject, n: number): Measurement {
  const m = run.measurements.find((x) => x.subject === subject && x.processes === n);
  if (m === undefined) throw new Error(`no ${subject} × ${n} measurement`);
  return m;
}

function serverCell(m: Measurement): string {
  const c = m.putServer;
  if (c === undefined) return '';
  const parts: string[] = [];
  if (c.commitCalls > 0) parts.push(`${num(m.putsTotal / c.commitCalls, 1)} puts a \`koru_commit\` call, ${ms(c.commitFunctionMs / c.commitCalls)} ms in it`);
  parts.push(`${num(m.putsTotal / Math.max(1, c.walSyncs), 1)} puts a WAL flush`, `${num(c.walBytes / m.putsTotal)} B and ${num(c.walRecords / m.putsTotal, 1)} records of WAL a put`);
  return parts.join('; ');
}

const cpuCell = (f: PhaseFigures): string => `${num(f.workerCpuPct)} / ${num(f.postgresCpuPct)} / ${num(f.machineCpuPct)}`;

/** The results page. */
export function toMarkdown(run: PostgresRun): string {
  const { machine, settings: s, feed } = run;
  const counts = s.processCounts;
  const ratios = ratiosOf(run);
  const embedded = find(run, 'embedded', 1);
  const rows: string[] = [];
  for (const n of counts) {
    const k = find(run, 'koru', n);
    const f = find(run, 'sql', n);
    rows.push(`| KoruDelta, ${n} server${n > 1 ? 's' : ''} | ${row(k)} | ${serverCell(k)} |`);
    rows.push(`| floor (plain SQL), ${n} process${n > 1 ? 'es' : ''} | ${row(f)} | ${serverCell(f)} |`);
  }
  rows.push(`| embedded, \`sync: 'always'\`, 1 process | ${row(embedded)} | |`);
  const worstPut = Math.max(...ratios.map((r) => r.put));
  const worstGet = Math.max(...ratios.map((r) => r.get));
  const verdict = (ok: boolean): string => (ok ? '**met**' : '**not met**');
  const errors = run.measurements.reduce((sum, m) => sum + m.put.errors + m.get.errors, 0) + feed.errors;
  const total = 100 * machine.cores;
  return [
    `# KoruDelta on PostgreSQL${run.quick ? ' (quick)' : ''}`,
    '',
    `${machine.cpu}, ${machine.cores} cores, ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB, ${machine.os}; Node ${machine.node}; PostgreSQL ${run.postgres} (the test harness's private server: fsync on, 16MB shared_buffers, data on ${machine.tmpdir}); ${machine.date}.`,
    `Load average (1, 5, 15 min) ${run.loadBefore.map((l) => l.toFixed(2)).join(', ')} before the run, ${run.loadAfter.map((l) => l.toFixed(2)).join(', ')} after; ${Math.round(run.durationSeconds)} s in all.`,
    '',
    `Each server is a process of its own with ${s.concurrency} operations outstanding: ${s.warmupMs / 1000} s of warm-up, then ${s.durationMs / 1000} s measured, puts (distinct keys, ~100-byte JSON values), then, in fresh processes, gets (random keys the process wrote). Throughput is the sum over the processes; latencies are merged. The floor is plain SQL through \`pg\` with a Pool of ${s.poolSize} a process (KoruDelta's default): one autocommit \`INSERT\` a put into \`floor (key text PRIMARY KEY, doc jsonb)\`, one \`SELECT doc FROM floor WHERE key = $1\` a get. Every PostgreSQL measurement has a fresh database. CPU is % of one core over the measured window (${total} % is the whole machine): the workers, PostgreSQL's processes, and the machine as a whole (anything else running included). The last column is PostgreSQL's own count over the put phase (warm-up included).`,
    '',
    '| | puts/s | put p50 / p99 ms | gets/s | get p50 / p99 ms | CPU % during puts: workers / PostgreSQL / machine | CPU % during gets | PostgreSQL during the puts |',
    '| --- | --: | --: | --: | --: | --: | --: | --- |',
    ...rows,
    '',
    `Change feed between two servers: one writes ${s.feedRate} awaited puts a second for ${s.feedMs / 1000} s, the other's \`subscribe\` handler records each (times are \`Date.now()\` differences, whole ms); ${feed.seen} of ${feed.written} seen${feed.outOfOrder > 0 ? `, ${feed.outOfOrder} out of order` : ', in order'}.`,
    '',
    '| | p50 ms | p99 ms | max ms |',
    '| --- | --: | --: | --: |',
    `| put called → handler ran on the other server | ${wholeMs(feed.p50Ms)} | ${wholeMs(feed.p99Ms)} | ${wholeMs(feed.maxMs)} |`,
    `| put acknowledged → handler ran on the other server | ${wholeMs(feed.afterAckP50Ms)} | ${wholeMs(feed.afterAckP99Ms)} | ${wholeMs(feed.afterAckMaxMs)} |`,
    `| the writer's put (one at a time) | ${wholeMs(feed.putP50Ms)} | ${wholeMs(feed.putP99Ms)} | |`,
    '',
    '## Targets (issue 16)',
    '',
    `| | ${counts.map((n) => `${n} server${n > 1 ? 's' : ''}`).join(' | ')} | target | verdict |`,
    `| --- | ${counts.map(() => '--:').join(' | ')} | --: | --- |`,
    `| puts: floor / KoruDelta | ${ratios.map((r) => `${r.put.toFixed(2)}×`).join(' | ')} | ≤ ${TARGETS.putRatio}× | ${verdict(worstPut <= TARGETS.putRatio)} |`,
    `| gets: floor / KoruDelta | ${ratios.map((r) => `${r.get.toFixed(2)}×`).join(' | ')} | ≤ ${TARGETS.getRatio}× | ${verdict(worstGet <= TARGETS.getRatio)} |`,
    `| change feed p99 between servers | ${wholeMs(feed.p99Ms)} ms${counts.slice(1).map(() => ' |').join('')} | ≤ ${TARGETS.feedP99Ms} ms | ${verdict(feed.p99Ms <= TARGETS.feedP99Ms && feed.seen === feed.written)} |`,
    '',
    ...(errors > 0 ? [`${errors} operations failed (see the JSON).`, ''] : []),
    '## What bounds the figures',
    '',
    ...bounds(run),
  ].join('\n');
}

function row(m: Measurement): string {
  return `${num(m.put.opsPerSec)} | ${ms(m.put.p50Ms)} / ${ms(m.put.p99Ms)} | ${num(m.get.opsPerSec)} | ${ms(m.get.p50Ms)} / ${ms(m.get.p99Ms)} | ${cpuCell(m.put)} | ${cpuCell(m.get)}`;
}

/** The paragraphs on what bounds each figure, with this run's numbers. */
function bounds(run: PostgresRun): string[] {
  const counts = run.settings.processCounts;
  const first = counts[0]!;
  const last = counts[counts.length - 1]!;
  const pgRuns = run.measurements.filter((m) => m.subject !== 'embedded');
  const phases = pgRuns.flatMap((m) => [m.put, m.get]);
  const others = phases.map((f) => f.machineCpuPct - f.workerCpuPct - f.postgresCpuPct);
  const k1 = find(run, 'koru', first);
  const kN = find(run, 'koru', last);
  const f1 = find(run, 'sql', first);
  const fN = find(run, 'sql', last);
  const e = find(run, 'embedded', 1);
  const batch = (m: Measurement): number => m.putsTotal / Math.max(1, m.putServer?.commitCalls ?? 0);
  const inCommit = (m: Measurement): number => (m.putServer?.commitFunctionMs ?? Number.NaN) / Math.max(1, m.putServer?.commitCalls ?? 0);
  const commitsPerSec = (m: Measurement): number => m.put.opsPerSec / batch(m);
  const walPerPut = (m: Measurement): number => (m.putServer?.walBytes ?? Number.NaN) / m.putsTotal;
  const recPerPut = (m: Measurement): number => (m.putServer?.walRecords ?? Number.NaN) / m.putsTotal;
  const pgUs = (m: Measurement, phase: 'put' | 'get'): number => usPerOp(m[phase].postgresCpuPct, m[phase].opsPerSec);
  const jsUs = (m: Measurement, phase: 'put' | 'get'): number => usPerOp(m[phase].workerCpuPct, m[phase].opsPerSec);
  const cores = run.machine.cores;
  const getCpuRatio = (jsUs(k1, 'get') + pgUs(k1, 'get')) / (jsUs(f1, 'get') + pgUs(f1, 'get'));
  return [
    `**The machine.** ${cores} cores, shared by the workers, PostgreSQL and anything else running. Over the PostgreSQL measurements the machine was ${range(phases.map((f) => f.machineCpuPct))} % busy out of ${100 * cores} %, of which ${range(others)} % went to processes other than the workers and PostgreSQL (and to kernel work not charged to them). Wherever the machine column is near ${100 * cores} %, that figure is bound by CPU, and whatever else ran took its share.`,
    '',
    `**KoruDelta puts.** A server has one commit on its way at a time (group commit): \`koru_commit\` writes a batch in one transaction, one round trip, and the puts that arrive meanwhile wait for the next batch. With ${run.settings.concurrency} puts outstanding, a batch held ${num(batch(k1), 1)} puts on average with ${first} server${batch(k1) <= 0.6 * run.settings.concurrency ? ' (about half of them: the next batch is taken as soon as a commit returns, before the callers it answered have put again, so batches alternate between a few puts and the rest)' : ''}, so it made ${num(commitsPerSec(k1))} commits/s: one every ${ms(1000 / commitsPerSec(k1))} ms, ${ms(inCommit(k1))} ms of it inside the function, the rest the round trip, the WAL flush and the process's own work (CPU: ${num(k1.put.workerCpuPct)} % of a core for the worker, ${num(k1.put.postgresCpuPct)} % for PostgreSQL). ${k1.put.machineCpuPct < 80 * run.machine.cores ? `That chain, not the CPU (the machine was ${num(k1.put.machineCpuPct)} % busy), bounds a server's puts.` : `That chain bounds a server's puts; the machine was busy too (${num(k1.put.machineCpuPct)} %), which lengthens every step of it.`} Every commit updates its namespace's row of \`koru_namespaces\` (the counters) and then the one \`koru_clock\` row, and holds both locks through the rest of the function and the WAL flush of its commit, so the commits of all servers run one after another, from their update of those rows to the end of their flush: with ${last} servers, ${num(commitsPerSec(kN))} commits/s in all (against ${num(commitsPerSec(k1))} with ${first}), each ${ms(inCommit(kN))} ms inside the function (the wait for those rows included). ${commitsPerSec(kN) <= 1.2 * commitsPerSec(k1) ? `More servers added latency (put p50 ${ms(k1.put.p50Ms)} → ${ms(kN.put.p50Ms)} ms), not commits: the chain was full.` : `More servers added commits until that chain filled (put p50 ${ms(k1.put.p50Ms)} → ${ms(kN.put.p50Ms)} ms).`} A put costs PostgreSQL ${num(walPerPut(k1))} B and ${num(recPerPut(k1), 1)} records of WAL (the value, the version and the head, each with its index entries, and the counters) against the floor's ${num(walPerPut(f1))} B and ${num(recPerPut(f1), 1)}, and ${num(pgUs(k1, 'put'))} µs of PostgreSQL CPU against ${num(pgUs(f1, 'put'))}.`,
    '',
    `**Floor puts.** Independent autocommit transactions, ${run.settings.poolSize} connections a process: PostgreSQL flushes the WAL once for the commits that wait together (${num(f1.putsTotal / Math.max(1, f1.putServer?.walSyncs ?? 1), 1)} a flush with ${first} process), and no row is shared, so nothing else orders them. Bound here by CPU (${num(pgUs(f1, 'put'))} µs of PostgreSQL and ${num(jsUs(f1, 'put'))} µs of driver CPU a put) and by connections ÷ (round trip + flush).`,
    '',
    `**Gets**, on both sides one round trip and one indexed read, no lock shared: bound by CPU. KoruDelta's get reads the key's row of \`koru_heads\` and costs ${num(jsUs(k1, 'get'))} µs of worker CPU and ${num(pgUs(k1, 'get'))} µs of PostgreSQL CPU with ${first} server, against the floor's ${num(jsUs(f1, 'get'))} and ${num(pgUs(f1, 'get'))} µs: ${getCpuRatio.toFixed(2)}× the CPU a get. With more processes than cores, the processes and PostgreSQL's backends take turns on the CPU and both sides lose throughput, KoruDelta more: with ${last} servers its worker CPU a get was ${num(jsUs(kN, 'get'))} µs and PostgreSQL's ${num(pgUs(kN, 'get'))} µs, against the floor's ${num(jsUs(fN, 'get'))} and ${num(pgUs(fN, 'get'))} µs.`,
    '',
    `**Embedded**: no network and no other process. Puts share fdatasyncs of the log (${num(e.put.opsPerSec)}/s, p99 ${ms(e.put.p99Ms)} ms); gets are served from memory in the one process (${num(e.get.opsPerSec)}/s).`,
    '',
    `**Change feed.** The commit notifies \`koru_changes\`; the other server's listener wakes, reads the new changes in one query and hands them to its subscribers: ${wholeMs(run.feed.afterAckP50Ms)} ms after the put was acknowledged at the median (p99 ${wholeMs(run.feed.afterAckP99Ms)} ms). From the put's call, the put's own latency adds to it (writer's put p99 ${wholeMs(run.feed.putP99Ms)} ms), and on a busy machine, waits for a core.`,
    '',
    `**With more cores.** Gets scale with cores on both sides (no shared lock), and the get ratio stays near the CPU ratio a get. Floor puts scale with cores and connections until the WAL flush rate limits them. KoruDelta's puts grow with servers only until the one chain of commits is full: all commits pass one after another through the counters and clock rows, from their update to the end of the WAL flush, so puts/s ≤ batch size ÷ that time, whatever the cores and servers. Cores shorten only the part of it spent writing versions and heads; a faster flush and larger batches (more puts outstanding a server) raise it. So with more cores the floor's puts grow and KoruDelta's stop at that bound: the put ratio grows, unless batches do.`,
    '',
  ];
}
