/**
 * The server rows, run by the runner itself (not a suite child): a KoruDelta server
 * process (`koru-server --port 0 -d DIR`, durable, default options) and a load process
 * (`server-load.ts`) on loopback; then the mixed load against a fresh server with its
 * RSS read every second; then redis-server and redis-benchmark for scale. Every process
 * started here is stopped here, also on failure.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runChild } from '../child.js';
import type { BenchConfig, ServerBenchConfig } from '../config.js';
import { startKoruServer, SERVER_VERSION, type RunningServer } from '../koru-server.js';
import { redisVersion, runRedis, type RedisRun } from '../redis.js';
import type { Column, OperationId, Row, SuiteMessage, Unit } from '../rows.js';
import type { LoadMessage, MixedReport, ServerLoadArgs } from '../server-load.js';
import { median } from '../measure.js';
import { jsonBytes, makeDoc } from '../workload.js';

export { SERVER_VERSION };

const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const mb = (x: number): string => `${(x / 1e6).toFixed(1)} MB`;
const log = (message: string): void => console.log(`[server] ${message}`);

/** What the section hands back to the runner. */
export interface ServerSectionResult {
  readonly rows: Row[];
  readonly problems: string[];
  /** redis-server version, when redis ran */
  readonly redis?: string;
  readonly seconds: number;
}

/** Memory figures of a mixed run: samples after the warm-up. */
export interface MemoryStats {
  readonly samples: number;
  readonly first: number;
  readonly last: number;
  readonly min: number;
  readonly max: number;
  /** samples in each of the first and last windows (10 % of the samples after the warm-up, at least 3) */
  readonly window: number;
  /** (last − first) / first, %: first and last are medians of the first and last windows after the warm-up (a passing spike does not move them; max shows it) */
  readonly driftPercent: number;
  /** (max − min) / (max + min), %: every sample lies within ± this of the midpoint */
  readonly halfRangePercent: number;
  readonly versionsWritten: number;
  /** (last − first) / versions written between the windows (estimated from the whole run's write rate) */
  readonly bytesPerVersion: number;
}

export function memoryStats(r: MixedReport): MemoryStats | undefined {
  const after = r.samples.filter((s) => s.t >= r.warmupSeconds);
  if (after.length < 2) return undefined;
  const window = Math.max(3, Math.round(after.length / 10));
  const first = median(after.slice(0, window).map((s) => s.rss));
  const last = median(after.slice(-window).map((s) => s.rss));
  const rss = after.map((s) => s.rss);
  const min = Math.min(...rss);
  const max = Math.max(...rss);
  const versionsWritten = r.versionsAfter - r.versionsBefore;
  // Versions written between the middles of the two windows, at the run's average write rate.
  const span = (after[after.length - 1 - (window >> 1)]!.t - after[window >> 1]!.t) / r.seconds;
  return {
    samples: after.length,
    window,
    first,
    last,
    min,
    max,
    driftPercent: ((last - first) / first) * 100,
    halfRangePercent: ((max - min) / (max + min)) * 100,
    versionsWritten,
    bytesPerVersion: versionsWritten > 0 && span > 0 ? (last - first) / (versionsWritten * span) : Number.NaN,
  };
}

/** One line on what the mixed load did, for notes and soak.md. */
export function describeMixed(r: MixedReport, c: ServerBenchConfig): string {
  return (
    `${r.seconds} s of paced load from a second process: HTTP ${int(c.mixedHttpRate)} req/s (autocannon overallRate, 10 keep-alive connections) + WebSocket ${int(c.mixedWsRate)} calls/s on one socket, ${Math.round(c.mixedPutShare * 100)}% puts, the rest gets, over ${int(c.keys)} pre-loaded keys, + ${c.mixedChurnPerSecond} short-lived sessions/s (hello, subscribe to a key, put it, receive the event, close); ` +
    `done: ${int(r.httpGets)} HTTP GETs, ${int(r.httpPuts)} HTTP PUTs (${int(r.httpNon2xx)} non-2xx, ${int(r.httpErrors)} errors), ${int(r.wsCalls)} WebSocket calls (${int(r.wsErrors)} errors, ${int(r.wsSkipped)} skipped for 1,000 outstanding), ${int(r.sessions)} sessions (${int(r.sessionFailures)} failed); longest wait for a WebSocket answer ${int(r.wsMaxGapMs)} ms, HTTP latency p99 ${r.httpP99Ms} ms, max ${int(r.httpMaxMs)} ms (autocannon, whole ms); ` +
    `versions ${int(r.versionsBefore)} → ${int(r.versionsAfter)}, ${mb(r.diskBytesAfter)} on disk after; CPU: server ${r.serverCpuPercent.toFixed(0)}%, load process ${r.loadCpuPercent.toFixed(0)}% of one core, machine ${r.machineBusyPercent.toFixed(0)}% busy`
  );
}

/** The memory rows of a mixed run. */
function memoryRows(r: MixedReport, c: ServerBenchConfig, push: (op: OperationId, value: number, unit: Unit, notes: string) => void): string | undefined {
  const m = memoryStats(r);
  if (m === undefined) return `mixed load: only ${r.samples.length} RSS samples (is /proc readable?)`;
  const what = `${describeMixed(r, c)}; VmRSS of the server process (/proc/<pid>/status) every second, ${m.samples} samples after a ${r.warmupSeconds} s warm-up; RSS after the pre-load, before the load: ${mb(r.idleRss)}`;
  push('server.rss.min', m.min, 'bytes', what);
  push('server.rss.max', m.max, 'bytes', `every sample after the warm-up within ±${m.halfRangePercent.toFixed(1)}% of the midpoint of ${mb(m.min)}..${mb(m.max)}`);
  push(
    'server.rss.drift',
    m.driftPercent,
    '%',
    `median of the last ${m.window} samples ${mb(m.last)} vs the first ${m.window} after the warm-up ${mb(m.first)}; ${int(m.versionsWritten)} versions written in the run (history is kept: ≈ ${Number.isFinite(m.bytesPerVersion) ? `${int(m.bytesPerVersion)} B of RSS growth per version written after the warm-up` : 'n/a'})`,
  );
  if (r.httpNon2xx + r.httpErrors + r.wsErrors + r.sessionFailures > 0) {
    return `mixed load: ${int(r.httpNon2xx)} HTTP non-2xx, ${int(r.httpErrors)} HTTP errors, ${int(r.wsErrors)} WebSocket errors, ${int(r.sessionFailures)} failed sessions (first: ${r.firstErrors.join(' | ').slice(0, 400)})`;
  }
  return undefined;
}

/**
 * Starts a server on `dir`, runs the load child with `plan`, stops the server (SIGTERM,
 * which must exit 0). Problems go to `problems`.
 */
async function withServer(
  dir: string,
  plan: ServerLoadArgs['plan'],
  config: ServerBenchConfig,
  timeoutMs: number,
  onMessage: (m: SuiteMessage | LoadMessage) => void,
  problems: string[],
): Promise<void> {
  await mkdir(dir, { recursive: true });
  let server: RunningServer | undefined;
  try {
    server = await startKoruServer(dir);
    log(`${plan}: server pid ${server.pid} at ${server.url}`);
    const args: ServerLoadArgs = { url: server.url, serverPid: server.pid, plan, config };
    let done = false;
    const exit = await runChild('./server-load.ts', args, (m) => {
      const message = m as SuiteMessage | LoadMessage;
      if (message.type === 'done') done = true;
      else onMessage(message);
    }, timeoutMs);
    if (!done) problems.push(`KoruDelta server: the ${plan} load process did not finish (exit ${exit.code ?? exit.signal}${exit.timedOut ? `, killed after ${timeoutMs / 1000} s` : ''})`);
    const crashed = server.child.exitCode ?? server.child.signalCode;
    if (crashed !== null) problems.push(`KoruDelta server: the server process exited during the ${plan} load (${crashed})`);
  } finally {
    if (server !== undefined) {
      const stop = await server.stop();
      if (stop.killed || stop.code !== 0) problems.push(`KoruDelta server: SIGTERM after the ${plan} load: ${stop.killed ? `still running after ${(stop.ms / 1000).toFixed(0)} s, killed` : `exit ${stop.code ?? stop.signal}`}`);
      else log(`${plan}: server stopped by SIGTERM in ${stop.ms.toFixed(0)} ms, exit 0`);
      if (server.logProblems.count > 0) problems.push(`KoruDelta server: logged ${server.logProblems.count} warnings/errors during the ${plan} load (first: ${server.logProblems.first.join(' | ').slice(0, 500)})`);
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/** The mixed load on a fresh server in `dir`; resolves with its report (undefined if it failed). */
export async function mixedRun(dir: string, config: ServerBenchConfig, problems: string[]): Promise<MixedReport | undefined> {
  let report: MixedReport | undefined;
  await withServer(dir, 'mixed', config, (config.mixedSeconds + 120) * 1_000, (m) => {
    if (m.type === 'mixed') report = m.report;
    else if (m.type === 'problem') problems.push(m.message);
  }, problems);
  return report;
}

/** Redis rows beside KoruDelta's, with KoruDelta's ratio to them in the notes. */
function redisRows(run: RedisRun, rows: readonly Row[], push: (column: Column, op: OperationId, value: number, unit: Unit, notes: string) => void): void {
  const pairs: [OperationId, 'GET' | 'SET', number, string][] = [
    ['http.get', 'GET', 1, 'KoruDelta HTTP GET'],
    ['http.put', 'SET', 1, 'KoruDelta HTTP PUT'],
    ['ws.get', 'GET', 16, 'KoruDelta WebSocket get (100 in flight)'],
    ['ws.put', 'SET', 16, 'KoruDelta WebSocket put (100 in flight)'],
  ];
  for (const [op, test, pipeline, koruName] of pairs) {
    const f = run.figures.find((x) => x.test === test && x.pipeline === pipeline);
    if (f === undefined) continue;
    const koru = rows.find((r) => r.subject === 'koru' && r.operation === op)?.value;
    push(
      'redis',
      op,
      f.rps,
      op.startsWith('http') ? 'req/s' : 'ops/s',
      `redis-benchmark ${test}${pipeline > 1 ? ` -P ${pipeline}` : ', not pipelined'}, ${run.args}; redis-server ${run.version} with --save '' --appendonly no on 127.0.0.1; its p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms; redis-server CPU ${f.serverCpuPercent.toFixed(0)}% of one core` +
        (koru !== undefined ? `; ${koruName} = ${(koru / f.rps).toFixed(2)}× this` : ''),
    );
  }
}

/** The whole section: throughput rows, memory rows, redis rows. */
export async function serverSection(bench: BenchConfig, root: string): Promise<ServerSectionResult> {
  const t0 = performance.now();
  const config = bench.server;
  const rows: Row[] = [];
  const problems: string[] = [];
  const push = (column: Column, operation: OperationId, value: number, unit: Unit, notes: string): void => {
    rows.push({ subject: column, operation, value, unit, notes });
  };
  const step = async (name: string, body: () => Promise<void>): Promise<void> => {
    const s0 = performance.now();
    try {
      await body();
    } catch (error) {
      problems.push(`KoruDelta server: ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      console.error(`[server] PROBLEM: ${name} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    log(`${name} took ${((performance.now() - s0) / 1000).toFixed(1)} s`);
  };

  await step('throughput', () =>
    withServer(join(root, 'server-throughput'), 'throughput', config, 4 * 60_000, (m) => {
      if (m.type === 'row') rows.push(m.row);
      else if (m.type === 'problem') problems.push(m.message);
    }, problems),
  );

  await step('mixed load', async () => {
    const report = await mixedRun(join(root, 'server-mixed'), config, problems);
    if (report === undefined) return;
    const trouble = memoryRows(report, config, (op, value, unit, notes) => push('koru', op, value, unit, notes));
    if (trouble !== undefined) problems.push(`KoruDelta server: ${trouble}`);
    const m = memoryStats(report);
    if (m !== undefined) log(`mixed load: RSS ${mb(m.min)}..${mb(m.max)} after warm-up, drift ${m.driftPercent.toFixed(1)}%`);
  });

  let redis: string | undefined;
  await step('redis', async () => {
    try {
      redisVersion();
    } catch {
      log('redis-server is not installed (apt-get install redis-server redis-tools): no redis column');
      return;
    }
    const valueBytes = Math.round(jsonBytes(makeDoc(0, 1_000)));
    const run = await runRedis(config.redisRequests, valueBytes, config.keys);
    redis = run.version;
    redisRows(run, rows, push);
    for (const f of run.figures) log(`redis ${f.test}${f.pipeline > 1 ? ` -P ${f.pipeline}` : ''}: ${int(f.rps)} req/s`);
  });

  return { rows, problems, ...(redis !== undefined ? { redis } : {}), seconds: (performance.now() - t0) / 1000 };
}
