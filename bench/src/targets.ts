/** The project's targets for KoruDelta, evaluated against the rows. Reported, never asserted. */
import { TARGETS as PG } from './postgres-report.js';
import type { Column, OperationId, Row } from './rows.js';

export type TargetStatus = 'met' | 'not met' | 'not measured' | 'informative';

export interface TargetResult {
  readonly name: string;
  readonly target: string;
  readonly measured: string;
  readonly status: TargetStatus;
}

/** Facts about the large database the memory target needs. */
export interface LargeShape {
  readonly keys: number;
  readonly versions: number;
  readonly rawCurrentJsonBytes: number;
}

const n = (x: number): string => Math.round(x).toLocaleString('en-US');
const ratio = (x: number): string => `${x.toFixed(2)}×`;

/** The server's memory target: after the warm-up, RSS drifts at most ±10 % and every sample lies within ±10 % of the midpoint of their range. */
export const MEMORY_FLAT_PERCENT = 10;

/** Verdict of the memory target from min, max and drift (%). */
export function memoryFlat(min: number, max: number, driftPercent: number): [string, boolean] {
  const half = ((max - min) / (max + min)) * 100;
  return [
    `${(min / 1e6).toFixed(1)}..${(max / 1e6).toFixed(1)} MB (±${half.toFixed(1)}%), drift ${driftPercent > 0 ? '+' : ''}${driftPercent.toFixed(1)}%`,
    Math.abs(driftPercent) <= MEMORY_FLAT_PERCENT && half <= MEMORY_FLAT_PERCENT,
  ];
}

/** The attack target: an authenticated client's get p99 under attack is at most this many times its p99 without. */
export const ATTACK_RATIO = 10;

/**
 * Verdict of the attack target. A failed or timed-out get counts as the timeout in the p99,
 * so with any failure the p99 is only a lower bound and the ratio is reported as ∞.
 */
export function attackVerdict(hit: number, base: number, failed: number): [string, boolean] {
  if (failed > 0) return [`∞: ${n(failed)} gets or sessions failed or timed out (p99 ≥ ${hit.toFixed(1)} ms vs ${base.toFixed(3)} ms)`, false];
  return [`${hit.toFixed(3)} vs ${base.toFixed(3)} ms = ${ratio(hit / base)}`, hit / base <= ATTACK_RATIO];
}

/** Sizes of the query rows' collections. */
export interface QueryShape {
  readonly docs: number;
  readonly indexedDocs: number;
}

/** Evaluates every target; a target whose inputs are missing is 'not measured'. */
export function evaluateTargets(rows: readonly Row[], large: LargeShape, queries: QueryShape): TargetResult[] {
  const value = (subject: Column, operation: OperationId): number | undefined => rows.find((r) => r.subject === subject && r.operation === operation)?.value;
  const out: TargetResult[] = [];
  const add = (name: string, target: string, inputs: readonly (number | undefined)[], judge: (xs: number[]) => [string, boolean]): void => {
    if (inputs.some((x) => x === undefined || !Number.isFinite(x))) {
      out.push({ name, target, measured: '—', status: 'not measured' });
      return;
    }
    const [measured, met] = judge(inputs as number[]);
    out.push({ name, target, measured, status: met ? 'met' : 'not met' });
  };
  const atLeast = (name: string, operation: OperationId, floor: number, unit: string): void =>
    add(name, `≥ ${n(floor)} ${unit}`, [value('koru', operation)], ([x]) => [`${n(x!)} ${unit}`, x! >= floor]);

  add('put, durable default policy: KoruDelta vs sqlite NORMAL', '≥ 2×', [value('koru', 'put.default'), value('sqlite', 'put.default')], ([k, s]) => [
    `${n(k!)} vs ${n(s!)} ops/s = ${ratio(k! / s!)}`,
    k! / s! >= 2,
  ]);
  add("put, sync 'always', 1 writer vs fdatasync bound", 'within 1.5× of the bound', [value('koru', 'put.always.1'), value('fs', 'fdatasync')], ([k, ms]) => {
    const bound = 1000 / ms!;
    return [`${n(k!)} ops/s vs bound ${n(bound)}/s = ${ratio(bound / k!)} slower`, bound / k! <= 1.5];
  });
  add("put, sync 'always', 64 writers: KoruDelta vs sqlite FULL", '≥ 10×', [value('koru', 'put.always.64'), value('sqlite', 'put.always.64')], ([k, s]) => [
    `${n(k!)} vs ${n(s!)} ops/s = ${ratio(k! / s!)}`,
    k! / s! >= 10,
  ]);
  atLeast('batched put (putMany, 1,000 per batch)', 'putBatch', 200_000, 'versions/s');
  atLeast('get', 'get', 5_000_000, 'ops/s');
  atLeast('history', 'history', 2_000_000, 'versions/s');
  atLeast('getAt', 'getAt', 1_000_000, 'ops/s');
  atLeast('put, in memory', 'put.memory', 250_000, 'ops/s');
  const shape = `${n(large.keys * large.versions)} versions`;
  add(`reopen, ${shape}, after compact()`, '≤ 500 ms', [value('koru', 'reopen.large')], ([ms]) => [`${ms!.toFixed(0)} ms`, ms! <= 500]);
  add(`reopen, ${shape}, log replay (informative, same bound)`, '≤ 500 ms', [value('koru', 'reopen.large.replay')], ([ms]) => [`${ms!.toFixed(0)} ms`, ms! <= 500]);
  add(`kdelta get, whole process, ${shape}`, '≤ 150 ms', [value('koru', 'cli.get')], ([ms]) => [`${ms!.toFixed(0)} ms`, ms! <= 150]);
  add(`kdelta import, ${shape}`, '≤ 20 s', [value('koru', 'cli.import')], ([s]) => [`${s!.toFixed(1)} s`, s! <= 20]);
  const historical = large.keys * large.versions - large.keys;
  const budget = 2 * large.rawCurrentJsonBytes + 150 * historical;
  add(
    `memory, ${shape} reopened`,
    `RSS over bare process ≤ 2 × ${n(large.rawCurrentJsonBytes)} B current JSON + 150 B × ${n(historical)} historical = ${(budget / 1e6).toFixed(1)} MB`,
    [value('koru', 'rss.large.delta'), value('koru', 'rss.large.perVersion')],
    ([delta, perVersion]) => [`${(delta! / 1e6).toFixed(1)} MB (${perVersion!.toFixed(0)} B per historical version)`, delta! <= budget],
  );
  atLeast(`query age > 30, sort by name, limit 10, ${n(queries.docs)} docs, no index`, 'query.top', 100, 'queries/s');
  atLeast(`filtered scan (count of city == X), ${n(queries.docs)} docs`, 'query.scan', 5_000_000, 'docs/s');
  atLeast(`indexed query email == X, ${n(queries.indexedDocs)} docs`, 'query.email.index', 100_000, 'queries/s');
  add('put with 1,000 subscribers: put to last notification, p99', '≤ 5 ms', [value('koru', 'subscribe.p99')], ([ms]) => [`${ms!.toFixed(2)} ms`, ms! <= 5]);
  add('auto-refresh filter view: cost added to a put', '≤ 2 µs', [value('koru', 'view.putCost')], ([us]) => [`${us!.toFixed(2)} µs`, us! <= 2]);

  atLeast('server: HTTP GET, keep-alive, max', 'http.get', 25_000, 'req/s');
  atLeast('server: HTTP PUT, keep-alive, max (durable default)', 'http.put', 25_000, 'req/s');
  add('server: HTTP GET p99 at 80% of max', '≤ 10 ms', [value('koru', 'http.get.p99')], ([ms]) => [`${ms!.toFixed(2)} ms`, ms! <= 10]);
  add('server: HTTP PUT p99 at 80% of max', '≤ 10 ms', [value('koru', 'http.put.p99')], ([ms]) => [`${ms!.toFixed(2)} ms`, ms! <= 10]);
  atLeast('server: WebSocket get, 100 in flight', 'ws.get', 150_000, 'ops/s');
  atLeast('server: WebSocket put, 100 in flight (durable default)', 'ws.put', 80_000, 'ops/s');
  add(
    'server: RSS under mixed load after warm-up (short run; 5-minute soak in results/soak.md)',
    `flat within ±${MEMORY_FLAT_PERCENT}%`,
    [value('koru', 'server.rss.min'), value('koru', 'server.rss.max'), value('koru', 'server.rss.drift')],
    ([min, max, drift]) => memoryFlat(min!, max!, drift!),
  );
  add(
    'server under attack: authenticated get p99 with unauthenticated sockets that never send hello and a regex storm, vs without',
    `≤ ${ATTACK_RATIO}× the p99 without the attack, no failed gets or sessions`,
    [value('koru', 'attack.get.p99'), value('koru', 'attack.get.p99.baseline'), value('koru', 'attack.failures')],
    ([hit, base, failed]) => attackVerdict(hit!, base!, failed!),
  );
  add('cluster: replication lag at 5,000 writes/s, p50', '≤ 5 ms', [value('koru', 'cluster.lag.p50')], ([ms]) => [`${ms!.toFixed(2)} ms`, ms! <= 5]);
  add('cluster: replication lag at 5,000 writes/s, p99', '≤ 50 ms', [value('koru', 'cluster.lag.p99')], ([ms]) => [`${ms!.toFixed(2)} ms`, ms! <= 50]);
  // Issue 13 bounds the join's time and the joiner's memory; its RSS is in the row's notes (`RSS 209 MB`).
  const joinRss = /\bRSS (\d+) MB/.exec(rows.find((r) => r.subject === 'koru' && r.operation === 'cluster.join')?.notes ?? '')?.[1];
  add(
    `cluster: an empty member joins a cluster holding ${shape} (spawn → same state root), and its RSS then`,
    '≤ 10 s, RSS ≤ 200 MB',
    [value('koru', 'cluster.join'), joinRss === undefined ? undefined : Number(joinRss)],
    ([s, mb]) => [`${s!.toFixed(2)} s, RSS ${mb!} MB`, s! <= 10 && mb! <= 200],
  );
  add('cluster: partition {A} / {B, C} with writes on both sides, heal → same state root', '≤ 5 s', [value('koru', 'cluster.heal')], ([s]) => [`${s!.toFixed(2)} s`, s! <= 5]);
  add(
    'cluster: CPU of each quiet, synced member (anti-entropy)',
    '≤ 1 % of a core each',
    [value('koru', 'cluster.idle.a'), value('koru', 'cluster.idle.b'), value('koru', 'cluster.idle.c')],
    (xs) => [`${xs.map((x) => `${x.toFixed(2)}%`).join(' / ')} (A / B / C)`, xs.every((x) => x <= 1)],
  );
  add('PostgreSQL store: durable puts, floor ÷ KoruDelta (1, 2, 4 servers)', `≤ ${PG.putRatio}×`, [value('koru', 'postgres.put.ratio')], ([x]) => [ratio(x!), x! <= PG.putRatio]);
  add('PostgreSQL store: gets, floor ÷ KoruDelta (1, 2, 4 servers)', `≤ ${PG.getRatio}×`, [value('koru', 'postgres.get.ratio')], ([x]) => [ratio(x!), x! <= PG.getRatio]);
  add('PostgreSQL store: change feed between servers, p99', `≤ ${PG.feedP99Ms} ms`, [value('koru', 'postgres.feed.p99')], ([ms]) => [`${ms!.toFixed(0)} ms`, ms! <= PG.feedP99Ms]);
  const vsRedis = (name: string, operation: OperationId, unit: string): void => {
    const k = value('koru', operation);
    const r = value('redis', operation);
    if (k === undefined || r === undefined) return;
    out.push({ name, target: 'informative', measured: `${n(k)} vs ${n(r)} ${unit} = ${ratio(k / r)}`, status: 'informative' });
  };
  vsRedis('server: HTTP GET vs redis GET (50 clients, not pipelined)', 'http.get', 'req/s');
  vsRedis('server: HTTP PUT vs redis SET (50 clients, not pipelined, no persistence)', 'http.put', 'req/s');
  vsRedis('server: WebSocket get (100 in flight) vs redis GET -P 16', 'ws.get', 'ops/s');
  vsRedis('server: WebSocket put (100 in flight) vs redis SET -P 16', 'ws.put', 'ops/s');
  return out;
}
