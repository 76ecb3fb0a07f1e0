/**
 * The load generator of the server rows, a process of its own (started by
 * sections/server.ts and soak.ts) against a KoruDelta server process on loopback:
 *
 * - `throughput`: HTTP GET and PUT with keep-alive (autocannon): the maximum rate, then
 *   latency at `latencyLoad` × that rate (autocannon's `overallRate`); WebSocket GET and
 *   PUT with `wsInFlight` calls outstanding on one socket.
 * - `mixed`: paced HTTP and WebSocket gets and puts plus short-lived sessions
 *   (subscribe, put, event, close) while the server's RSS is read every second.
 *
 * Rows go to the parent as SuiteMessages; the mixed run as one `{ type: 'mixed' }` report.
 */
import { availableParallelism } from 'node:os';
import autocannon from 'autocannon';
import { sendToParent } from './child.js';
import type { ServerBenchConfig } from './config.js';
import { formatFigure } from './context.js';
import { median, percentile } from './measure.js';
import { cpuMsOf, machineBusy, rssOf } from './procs.js';
import type { OperationId, Row, Unit } from './rows.js';
import { getTail, putTail, WsSession, type RequestTail } from './ws-load.js';
import { NAMESPACE, keyNames, makeDoc, randomInts, SEED } from './workload.js';

/** Arguments of `server-load.ts`. */
export interface ServerLoadArgs {
  readonly url: string;
  readonly serverPid: number;
  readonly plan: 'throughput' | 'mixed';
  readonly config: ServerBenchConfig;
}

/** One RSS reading of the server process. */
export interface RssSample {
  /** seconds since the mixed load started */
  readonly t: number;
  readonly rss: number;
}

/** What the mixed run reports (turned into rows or soak.md by the parent). */
export interface MixedReport {
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** RSS after the pre-load, before any load */
  readonly idleRss: number;
  readonly samples: readonly RssSample[];
  readonly httpGets: number;
  readonly httpPuts: number;
  readonly httpErrors: number;
  readonly httpNon2xx: number;
  readonly wsCalls: number;
  readonly wsErrors: number;
  readonly wsSkipped: number;
  /** longest wait for a WebSocket answer while calls were outstanding, ms */
  readonly wsMaxGapMs: number;
  /** autocannon's latency of the paced HTTP requests (whole ms) */
  readonly httpP99Ms: number;
  readonly httpMaxMs: number;
  readonly sessions: number;
  readonly sessionFailures: number;
  readonly firstErrors: readonly string[];
  readonly versionsBefore: number;
  readonly versionsAfter: number;
  readonly diskBytesAfter: number;
  readonly serverCpuPercent: number;
  readonly loadCpuPercent: number;
  readonly machineBusyPercent: number;
}

export type LoadMessage = { readonly type: 'mixed'; readonly report: MixedReport };

const args = JSON.parse(process.argv[2]!) as ServerLoadArgs;
const { url, serverPid, config } = args;
const names = keyNames(config.keys);
const cores = availableParallelism();
const int = (x: number): string => Math.round(x).toLocaleString('en-US');
const log = (message: string): void => console.log(`[server] ${message}`);

async function emit(operation: OperationId, value: number, unit: Unit, notes: string, runs?: readonly number[]): Promise<void> {
  const row: Row = runs === undefined ? { subject: 'koru', operation, value, unit, notes } : { subject: 'koru', operation, value, unit, notes, runs };
  log(`${operation}: ${formatFigure(value, unit)}`);
  await sendToParent({ type: 'row', row });
}

async function problem(message: string): Promise<void> {
  console.error(`[server] PROBLEM: ${message}`);
  await sendToParent({ type: 'problem', message: `KoruDelta server: ${message}` });
}

interface CpuUse {
  /** % of one core */
  readonly server: number;
  readonly load: number;
  /** % of all cores, whatever used them */
  readonly machine: number;
}

/** CPU used by the server, by this process and by the whole machine over a stretch. */
function cpuMeter(): () => CpuUse {
  const t0 = performance.now();
  const s0 = cpuMsOf(serverPid) ?? Number.NaN;
  const l0 = process.cpuUsage();
  const machine = machineBusy();
  return () => {
    const ms = performance.now() - t0;
    const l = process.cpuUsage(l0);
    return { server: (((cpuMsOf(serverPid) ?? Number.NaN) - s0) * 100) / ms, load: ((l.user + l.system) / 1000 / ms) * 100, machine: machine() };
  };
}
const cpuNote = (c: CpuUse): string =>
  `CPU: ${Number.isFinite(c.server) ? `server ${c.server.toFixed(0)}%, ` : ''}load process ${c.load.toFixed(0)}% of one core${Number.isFinite(c.machine) ? `; machine ${c.machine.toFixed(0)}% busy (all ${cores} cores, kernel included)` : ''}`;

/** Documents written by the load: key `k` at versions far past the pre-load's 0. */
const putDoc = (i: number, k: number) => makeDoc(k, 1_000 + i);

/** `count` (a power of two) seeded random key indexes. */
const picks = (count: number, salt: number): Uint32Array => randomInts(count, names.length, SEED ^ salt);

// ---------------------------------------------------------------- pre-load and checks

async function preload(session: WsSession): Promise<void> {
  const t0 = performance.now();
  for (let from = 0; from < names.length; from += 1_000) {
    const items = names.slice(from, from + 1_000).map((key, j) => ({ namespace: NAMESPACE, key, value: makeDoc(from + j, 0) }));
    await session.call('putMany', [items]);
  }
  // Answers are checked before anything is timed, over both protocols.
  for (const k of [0, names.length >> 1, names.length - 1]) {
    const res = await fetch(`${url}/v1/kv/${NAMESPACE}/${names[k]}`);
    const doc = (await res.json()) as { id?: string; v?: number };
    if (res.status !== 200 || doc.id !== names[k] || doc.v !== 0) throw new Error(`HTTP GET ${names[k]} answered ${res.status} ${JSON.stringify(doc).slice(0, 200)}`);
    const viaWs = (await session.call('get', [NAMESPACE, names[k]])) as { id?: string; v?: number };
    if (viaWs?.id !== names[k] || viaWs.v !== 0) throw new Error(`WebSocket get ${names[k]} answered ${JSON.stringify(viaWs).slice(0, 200)}`);
  }
  log(`pre-loaded ${int(names.length)} keys with putMany in ${((performance.now() - t0) / 1000).toFixed(1)} s; answers checked`);
}

// ---------------------------------------------------------------- HTTP (autocannon)

type CannonRequest = NonNullable<autocannon.Options['requests']>[number];

/** Runs autocannon; `onResponse` sees every response's status and time (ms, fractional). */
function fire(options: autocannon.Options, onResponse: (status: number, ms: number) => void): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error: unknown, result: autocannon.Result) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(result)));
    instance.on('response', (_client, status, _bytes, ms) => onResponse(status, ms));
  });
}

interface CannonRun {
  readonly ok: number;
  /** 2xx answers per second from 250 ms after the first answer to the last (connection set-up excluded) */
  readonly steadyRate: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly ms: number;
  /** autocannon's per-response times of 2xx answers (hrtime, fractional ms) */
  readonly latencies: Float64Array;
  /** autocannon's own p99 (whole ms; with its coordinated-omission correction when rate-limited) */
  readonly cannonP99: number;
  readonly firstStatus?: string;
  readonly cpu: CpuUse;
}

async function cannon(requests: CannonRequest[], seconds: number, overallRate?: number): Promise<CannonRun> {
  const latencies = new Float64Array(4_000_000);
  let ok = 0;
  let non2xx = 0;
  let firstStatus: string | undefined;
  let steadyFrom = 0;
  let steadyTo = 0;
  let steady = 0;
  const cpu = cpuMeter();
  const t0 = performance.now();
  const result = await fire(
    { url, connections: config.httpConnections, pipelining: 1, duration: seconds, requests, ...(overallRate !== undefined ? { overallRate } : {}) },
    (status, ms) => {
      if (status >= 200 && status < 300) {
        if (ok < latencies.length) latencies[ok] = ms;
        ok++;
        const now = performance.now();
        if (steadyFrom === 0) steadyFrom = now + 250;
        else if (now >= steadyFrom) {
          steady++;
          steadyTo = now;
        }
      } else {
        non2xx++;
        firstStatus ??= `HTTP ${status}`;
      }
    },
  );
  const ms = performance.now() - t0;
  return {
    ok,
    steadyRate: steadyTo > steadyFrom ? (steady * 1000) / (steadyTo - steadyFrom) : (ok * 1000) / ms,
    non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    ms,
    latencies: latencies.subarray(0, Math.min(ok, latencies.length)),
    cannonP99: result.latency.p99,
    ...(firstStatus !== undefined ? { firstStatus } : {}),
    cpu: cpu(),
  };
}

const rate = (r: CannonRun): number => (r.ok * 1000) / r.ms;
const fails = (r: CannonRun): string => `${int(r.non2xx)} non-2xx${r.firstStatus !== undefined ? ` (first: ${r.firstStatus})` : ''}, ${int(r.errors)} errors (${int(r.timeouts)} timeouts)`;
const msOf = (x: number): string => `${x.toFixed(x < 10 ? 2 : 1)} ms`;

async function checkRun(what: string, r: CannonRun): Promise<void> {
  if (r.non2xx + r.errors > 0) await problem(`${what}: ${fails(r)} of ${int(r.ok + r.non2xx + r.errors)} requests`);
}

/** Maximum rate, then latency at `latencyLoad` × it: rows `operation` and `operation.p99`. */
async function httpRows(method: 'GET' | 'PUT', requests: CannonRequest[], operation: 'http.get' | 'http.put', what: string): Promise<void> {
  const c = config.httpConnections;
  await cannon(requests, config.httpWarmupSeconds);
  const max = await cannon(requests, config.httpMaxSeconds);
  await checkRun(`HTTP ${method} at the maximum rate`, max);
  const maxRate = max.steadyRate;
  await emit(
    operation,
    maxRate,
    'req/s',
    `${what}; autocannon in a second process, ${c} keep-alive connections, 1 request in flight each, ${config.httpMaxSeconds} s after a ${config.httpWarmupSeconds} s warm-up run; 2xx answers per second from 250 ms after the first to the last (over the whole run, set-up included: ${int(rate(max))}/s); ${int(max.ok)} 2xx, ${fails(max)}; latency at this rate p50 ${msOf(percentile(max.latencies, 0.5))}, p99 ${msOf(percentile(max.latencies, 0.99))}; ${cpuNote(max.cpu)}`,
  );
  const target = Math.max(1, Math.round(maxRate * config.latencyLoad));
  const at = await cannon(requests, config.httpLatencySeconds, target);
  await checkRun(`HTTP ${method} at ${Math.round(config.latencyLoad * 100)}% of the maximum rate`, at);
  const l = at.latencies;
  await emit(
    `${operation}.p99` as OperationId,
    percentile(l, 0.99),
    'ms',
    `autocannon overallRate ${int(target)} req/s (${Math.round(config.latencyLoad * 100)}% of ${int(maxRate)}) over ${c} connections for ${config.httpLatencySeconds} s: achieved ${int(rate(at))} req/s; p99 of autocannon's per-response times (hrtime), ${int(l.length)} responses: p50 ${msOf(percentile(l, 0.5))}, p99.9 ${msOf(percentile(l, 0.999))}, max ${msOf(percentile(l, 1))}; autocannon's own histogram p99: ${at.cannonP99} ms (whole ms, with its coordinated-omission correction); its rate limit is a per-connection quota per second, so requests come in bursts at full speed until the second's quota is used, not evenly spaced; ${fails(at)}; ${cpuNote(at.cpu)}`,
  );
}

async function httpSection(): Promise<void> {
  // A short list: autocannon builds every listed request for every connection up front.
  const getPicks = picks(256, 0x67);
  const gets: CannonRequest[] = Array.from(getPicks, (k) => ({ method: 'GET', path: `/v1/kv/${NAMESPACE}/${names[k]}` }));
  await httpRows('GET', gets, 'http.get', `GET /v1/kv/${NAMESPACE}/<key> of ${int(names.length)} pre-loaded keys (~200-byte JSON values), seeded random keys`);

  // Every PUT writes a document that differs from the key's current one.
  const pool = 65_536;
  const putPicks = picks(pool, 0x70);
  const paths = Array.from(putPicks, (k) => `/v1/kv/${NAMESPACE}/${names[k]}`);
  const bodies = Array.from(putPicks, (k, i) => JSON.stringify(putDoc(i, k)));
  let cursor = 0;
  const puts: CannonRequest[] = [
    {
      method: 'PUT',
      path: paths[0]!,
      headers: { 'content-type': 'application/json' },
      setupRequest: (req) => {
        const j = cursor++ & (pool - 1);
        req.path = paths[j]!;
        req.body = bodies[j]!;
        return req;
      },
    },
  ];
  await httpRows('PUT', puts, 'http.put', `PUT /v1/kv/${NAMESPACE}/<key> of ~200-byte JSON documents (each differs from the key's current value) over ${int(names.length)} keys, seeded random keys; server on a data directory with default options (sync 'periodic')`);
}

// ---------------------------------------------------------------- WebSocket

async function wsRow(session: WsSession, operation: 'ws.get' | 'ws.put', tails: RequestTail[], what: string): Promise<void> {
  await session.closedLoop(tails, config.wsInFlight, config.wsWarmupMs);
  const rates: number[] = [];
  let ops = 0;
  let errors = 0;
  let firstError: string | undefined;
  const cpu = cpuMeter();
  for (let r = 0; r < config.wsRuns; r++) {
    const t = await session.closedLoop(tails, config.wsInFlight, config.wsRunMs);
    rates.push((t.ops * 1000) / t.ms);
    ops += t.ops;
    errors += t.errors;
    firstError ??= t.firstError;
  }
  if (errors > 0) await problem(`WebSocket ${operation}: ${int(errors)} of ${int(ops)} calls answered an error (first: ${firstError})`);
  await emit(
    operation,
    median(rates),
    'ops/s',
    `${what}; one socket from a second process (the \`ws\` package, PROTOCOL.md calls), ${config.wsInFlight} calls outstanding (each answer sends the next); ${config.wsRuns > 1 ? `median of ${config.wsRuns} runs` : '1 run'} of ${(config.wsRunMs / 1000).toFixed(1)} s after ${(config.wsWarmupMs / 1000).toFixed(1)} s of warm-up; ${int(ops)} calls, ${int(errors)} errors; ${cpuNote(cpu())}`,
    rates,
  );
}

async function wsSection(): Promise<void> {
  const session = await WsSession.open(url);
  try {
    const gets = Array.from(picks(4_096, 0x77), (k) => getTail(NAMESPACE, names[k]!));
    await wsRow(session, 'ws.get', gets, `get [${NAMESPACE}, <key>] of ${int(names.length)} pre-loaded keys, seeded random keys`);
    const pool = 65_536;
    const puts = Array.from(picks(pool, 0x78), (k, i) => putTail(NAMESPACE, names[k]!, putDoc(pool + i, k)));
    await wsRow(session, 'ws.put', puts, `put [${NAMESPACE}, <key>, <~200-byte document>], each differing from the key's current value; server on a data directory with default options (sync 'periodic': each put reaches the OS before it is answered)`);
  } finally {
    await session.close();
  }
}

// ---------------------------------------------------------------- mixed load and memory

async function status(): Promise<{ versions: number; diskBytes: number }> {
  const res = await fetch(`${url}/v1/status`);
  return (await res.json()) as { versions: number; diskBytes: number };
}

/** A short-lived session: hello, subscribe to one key, put it, wait for the event, close. */
async function churnSession(key: string, i: number): Promise<void> {
  const session = await WsSession.open(url);
  try {
    const event = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no event in 5 s')), 5_000);
      session.socket.on('message', (data: Buffer) => {
        if (data.includes('"type":"event"')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await session.call('subscribe', [{ namespace: NAMESPACE, key }]);
    await session.call('put', [NAMESPACE, key, putDoc(2_000_000 + i, names.indexOf(key))]);
    await event;
  } finally {
    await session.close();
  }
}

async function mixed(): Promise<MixedReport> {
  const { mixedSeconds: seconds, mixedHttpRate, mixedWsRate, mixedPutShare } = config;
  const before = await status();
  const idleRss = rssOf(serverPid) ?? Number.NaN;
  const samples: RssSample[] = [];
  const firstErrors: string[] = [];
  const t0 = performance.now();
  const sample = (): void => {
    const rss = rssOf(serverPid);
    if (rss !== undefined) samples.push({ t: (performance.now() - t0) / 1000, rss });
  };
  const sampler = setInterval(sample, 1_000);
  const cpu = cpuMeter();

  // HTTP: a repeating list of 20 requests, mixedPutShare of them puts with fresh bodies.
  const pool = 65_536;
  const putPicks = picks(pool, 0x6d);
  const getPicks = picks(pool, 0x6e);
  let putCursor = 0;
  let getCursor = 0;
  let httpGets = 0;
  let httpPuts = 0;
  const putsPer20 = Math.round(20 * mixedPutShare);
  const requests: CannonRequest[] = [];
  for (let i = 0; i < 20; i++) {
    requests.push(
      i < putsPer20
        ? {
            method: 'PUT',
            path: '/',
            headers: { 'content-type': 'application/json' },
            setupRequest: (req) => {
              const j = putCursor++;
              const k = putPicks[j & (pool - 1)]!;
              req.path = `/v1/kv/${NAMESPACE}/${names[k]}`;
              req.body = JSON.stringify(putDoc(3_000_000 + j, k));
              return req;
            },
            onResponse: (statusCode) => {
              if (statusCode >= 200 && statusCode < 300) httpPuts++;
            },
          }
        : {
            method: 'GET',
            path: '/',
            setupRequest: (req) => {
              req.path = `/v1/kv/${NAMESPACE}/${names[getPicks[getCursor++ & (pool - 1)]!]}`;
              return req;
            },
            onResponse: (statusCode) => {
              if (statusCode >= 200 && statusCode < 300) httpGets++;
            },
          },
    );
  }
  const http = cannonMixed(requests, seconds, mixedHttpRate);

  // WebSocket: one paced socket.
  const session = await WsSession.open(url);
  let wsCursor = 0;
  const ws = session.paced(
    () => {
      const j = wsCursor++;
      const k = getPicks[(j * 7) & (pool - 1)]!;
      return (j % 20) < putsPer20 ? putTail(NAMESPACE, names[k]!, putDoc(5_000_000 + j, k)) : getTail(NAMESPACE, names[k]!);
    },
    mixedWsRate,
    seconds * 1_000,
  );

  // Short-lived sessions.
  let sessions = 0;
  let sessionFailures = 0;
  const churns: Promise<void>[] = [];
  const churnTimer = setInterval(() => {
    const i = sessions++;
    churns.push(
      churnSession(names[putPicks[(i * 13) & (pool - 1)]!]!, i).catch((e: unknown) => {
        sessionFailures++;
        if (firstErrors.length < 5) firstErrors.push(`session: ${e instanceof Error ? e.message : String(e)}`);
      }),
    );
  }, 1_000 / config.mixedChurnPerSecond);
  setTimeout(() => clearInterval(churnTimer), seconds * 1_000);

  const [h, w] = await Promise.all([
    http,
    ws.catch((e: unknown) => {
      firstErrors.push(`websocket: ${e instanceof Error ? e.message : String(e)}`);
      return { ops: 0, errors: 1, skipped: 0, maxGapMs: Number.NaN } as { ops: number; errors: number; skipped: number; maxGapMs: number; firstError?: string };
    }),
  ]);
  await Promise.all(churns);
  clearInterval(sampler);
  await session.close();
  const c = cpu();
  const after = await status();
  if (h.firstStatus !== undefined) firstErrors.push(`http: ${h.firstStatus}`);
  if (w.firstError !== undefined) firstErrors.push(`websocket: ${w.firstError}`);
  return {
    seconds,
    warmupSeconds: config.mixedWarmupSeconds,
    idleRss,
    samples,
    httpGets,
    httpPuts,
    httpErrors: h.errors,
    httpNon2xx: h.non2xx,
    wsCalls: w.ops,
    wsErrors: w.errors,
    wsSkipped: w.skipped,
    wsMaxGapMs: w.maxGapMs,
    httpP99Ms: h.p99,
    httpMaxMs: h.max,
    sessions,
    sessionFailures,
    firstErrors,
    versionsBefore: before.versions,
    versionsAfter: after.versions,
    diskBytesAfter: after.diskBytes,
    serverCpuPercent: c.server,
    loadCpuPercent: c.load,
    machineBusyPercent: c.machine,
  };
}

/** autocannon at a paced rate; counts only (no latencies kept). */
async function cannonMixed(requests: CannonRequest[], seconds: number, overallRate: number): Promise<{ ok: number; non2xx: number; errors: number; p99: number; max: number; firstStatus?: string }> {
  let ok = 0;
  let non2xx = 0;
  let firstStatus: string | undefined;
  const result = await fire({ url, connections: 10, pipelining: 1, duration: seconds, overallRate, requests }, (statusCode) => {
    if (statusCode >= 200 && statusCode < 300) ok++;
    else {
      non2xx++;
      firstStatus ??= `HTTP ${statusCode}`;
    }
  });
  return { ok, non2xx, errors: result.errors, p99: result.latency.p99, max: result.latency.max, ...(firstStatus !== undefined ? { firstStatus } : {}) };
}

// ---------------------------------------------------------------- main

const loader = await WsSession.open(url);
await preload(loader);
await loader.close();
if (args.plan === 'throughput') {
  for (const [name, section] of [
    ['HTTP', httpSection],
    ['WebSocket', wsSection],
  ] as const) {
    const t0 = performance.now();
    try {
      await section();
    } catch (error) {
      await problem(`${name} rows failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
    log(`${name} rows took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
} else {
  const report = await mixed();
  const message: LoadMessage = { type: 'mixed', report };
  await sendToParent(message);
}
await sendToParent({ type: 'done' });
process.exit(0);
