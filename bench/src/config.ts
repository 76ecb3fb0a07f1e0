/** Workload sizes and timing budgets; `--quick` shrinks them for a smoke test. */

/**
 * The server rows: a KoruDelta server process on loopback, load from a second process
 * (autocannon for HTTP, a `ws` client for the WebSocket), redis-server beside it.
 */
export interface ServerBenchConfig {
  /** keys pre-loaded (~200-byte JSON documents) before any request */
  readonly keys: number;
  /**
   * autocannon connections (keep-alive, one request in flight each): its default, 10. On the
   * 2-core VM, 20–50 connections gave lower rates than 10 or 100, a plain node http server too.
   */
  readonly httpConnections: number;
  /** untimed autocannon run before each maximum-rate run (the server's rate climbs for seconds while its JIT warms up) */
  readonly httpWarmupSeconds: number;
  /** the maximum-rate run */
  readonly httpMaxSeconds: number;
  /** the latency run at `latencyLoad` × the maximum rate */
  readonly httpLatencySeconds: number;
  readonly latencyLoad: number;
  /** WebSocket calls kept outstanding on one socket */
  readonly wsInFlight: number;
  readonly wsWarmupMs: number;
  /** timed WebSocket runs (median reported) and their length */
  readonly wsRuns: number;
  readonly wsRunMs: number;
  /** mixed load for the memory rows: length, warm-up excluded from the figures */
  readonly mixedSeconds: number;
  readonly mixedWarmupSeconds: number;
  /** paced rates of the mixed load: HTTP requests/s, WebSocket calls/s; share of them that are puts */
  readonly mixedHttpRate: number;
  readonly mixedWsRate: number;
  readonly mixedPutShare: number;
  /** short-lived WebSocket sessions per second (hello, subscribe, put, event, close) */
  readonly mixedChurnPerSecond: number;
  /** redis-benchmark -n */
  readonly redisRequests: number;
}

/** The server section in a full run (~90 s). */
export const SERVER_FULL: ServerBenchConfig = {
  keys: 10_000,
  httpConnections: 10,
  httpWarmupSeconds: 3,
  httpMaxSeconds: 6,
  httpLatencySeconds: 5,
  latencyLoad: 0.8,
  wsInFlight: 100,
  wsWarmupMs: 1_000,
  wsRuns: 3,
  wsRunMs: 1_500,
  mixedSeconds: 20,
  mixedWarmupSeconds: 5,
  mixedHttpRate: 3_000,
  mixedWsRate: 3_000,
  mixedPutShare: 0.1,
  mixedChurnPerSecond: 5,
  redisRequests: 200_000,
};

/** The 5-minute soak (`pnpm bench:soak`): the mixed load only, longer. */
export const SERVER_SOAK: ServerBenchConfig = { ...SERVER_FULL, mixedSeconds: 300, mixedWarmupSeconds: 60 };

/**
 * The cluster rows: three `kdelta start` members on 127.0.0.1, each with a fresh data
 * directory (see sections/cluster.ts).
 */
export interface ClusterBenchConfig {
  /** replication lag: puts per second to member A, for how long, after a warm-up of the same load (not measured) */
  readonly lagRate: number;
  readonly lagSeconds: number;
  readonly lagWarmupSeconds: number;
  /** keys the lag writes cycle through */
  readonly lagKeys: number;
  /** join: the joined cluster holds largeKeys × largeVersions (the large DB); the new member must match in this long */
  readonly joinTimeoutSeconds: number;
  /** versions per putMany when member A's directory is filled before it starts */
  readonly prepBatch: number;
  /** partition: how long it lasts, and the versions written on each side meanwhile (A all of its side's; B and C half each) */
  readonly partitionSeconds: number;
  readonly partitionWrites: number;
  /** keys both sides write to (the same keys, so histories interleave) */
  readonly partitionKeys: number;
  readonly healTimeoutSeconds: number;
  /**
   * anti-entropy cost: versions the quiet members hold (10,000 keys × versions / 10,000), rest
   * after they agree, and the sampled window. The rest is long enough for V8's memory reducer:
   * ~30 s after a member's join it runs full GCs once (heap ~130 MB → ~35 MB at 100,000
   * versions, ~0.3 s of CPU), which is not the steady cost being measured.
   */
  readonly idleVersions: number;
  readonly idleSettleSeconds: number;
  readonly idleSeconds: number;
}

export const CLUSTER_FULL: ClusterBenchConfig = {
  lagRate: 5_000,
  lagSeconds: 10,
  lagWarmupSeconds: 3,
  lagKeys: 10_000,
  joinTimeoutSeconds: 180,
  prepBatch: 10_000,
  partitionSeconds: 30,
  partitionWrites: 50_000,
  partitionKeys: 10_000,
  healTimeoutSeconds: 120,
  idleVersions: 100_000,
  idleSettleSeconds: 40,
  idleSeconds: 30,
};

/**
 * The "under attack" rows (sections/attack.ts): an authenticated client's sequential gets
 * on a server with a token, without and then with an attack from another process:
 * WebSocket upgrades without a token that never send hello, and a loop of regex queries
 * with catastrophic patterns. Every wait has a deadline, so a server that hangs costs
 * the run at most a few timeouts.
 */
export interface AttackBenchConfig {
  /** keys pre-loaded (~200-byte JSON documents) that the client gets */
  readonly keys: number;
  /** untimed sequential gets before the baseline */
  readonly warmupMs: number;
  /** the client sends its next get this long after the previous one was sent, or at once if that one took longer */
  readonly getIntervalMs: number;
  /** sequential gets without the attack, then with it */
  readonly baselineMs: number;
  readonly attackMs: number;
  /** a get (or a fresh session's connect + hello + get) not answered in this long is a failure with this latency */
  readonly getTimeoutMs: number;
  /** a fresh authenticated session (connect, hello, one get, close) every this often, beside the sequential gets */
  readonly probeEveryMs: number;
  /** WebSocket upgrades without a token that never send hello, held open */
  readonly unauthSockets: number;
  /** at most this many of them in their handshake at once while they are first opened */
  readonly openConcurrency: number;
  /** the attack starts once they are all open, or after this long */
  readonly rampTimeoutMs: number;
  /** sockets the server closes or refuses are reopened at most this often per second */
  readonly reopenPerSecond: number;
  /** regex storm: query loops, each with one request outstanding */
  readonly regexLoops: number;
  /** a query not answered in this long is aborted and counted as timed out */
  readonly regexTimeoutMs: number;
  /** documents `{ s: 'a'.repeat(regexLength) + '!' }` the patterns run over */
  readonly regexDocs: number;
  readonly regexLength: number;
  /** SIGTERM grace after the attack before the server is killed */
  readonly stopGraceMs: number;
}

/**
 * The regex storm's patterns, taken in turn: each takes exponential (or high-polynomial)
 * time in a backtracking engine on `'a'.repeat(n) + '!'`, and linear time in an
 * automaton-based one.
 */
export const CATASTROPHIC_PATTERNS = ['^(a+)+$', '^(a|a)*$', '^(.*a){20}$'] as const;

/** The attack rows in a full run (~40 s). */
export const ATTACK_FULL: AttackBenchConfig = {
  keys: 1_000,
  warmupMs: 1_000,
  getIntervalMs: 1,
  baselineMs: 8_000,
  attackMs: 12_000,
  getTimeoutMs: 2_000,
  probeEveryMs: 500,
  unauthSockets: 1_000,
  openConcurrency: 100,
  rampTimeoutMs: 10_000,
  reopenPerSecond: 200,
  regexLoops: 4,
  regexTimeoutMs: 3_000,
  regexDocs: 100,
  regexLength: 40,
  stopGraceMs: 5_000,
};

/** Everything a run is parameterized by; passed verbatim to child processes. */
export interface BenchConfig {
  readonly quick: boolean;
  /** base workload: keys × versions */
  readonly keys: number;
  readonly versions: number;
  /** large database used for reopen, disk and memory rows */
  readonly largeKeys: number;
  readonly largeVersions: number;
  readonly batchSize: number;
  readonly writers: number;
  /** measurement runs per row; the median is reported */
  readonly runs: number;
  /** timed work per put or batch run */
  readonly runMs: number;
  /** timed work per read run */
  readonly readRunMs: number;
  /** untimed warm-up before each run */
  readonly warmupMs: number;
  /** cap on fresh-database passes per run for stores that finish the workload quickly */
  readonly maxPasses: number;
  readonly fsyncSamples: number;
  /** query rows: documents of the scan rows, and of the indexed-lookup rows */
  readonly queryDocs: number;
  readonly indexedQueryDocs: number;
  /** live subscriptions on the namespace, and timed puts they all receive */
  readonly subscribers: number;
  readonly subscriberPuts: number;
  /** view cost: runs, and awaited puts per run into each namespace (with and without the view) */
  readonly viewRuns: number;
  readonly viewRunPuts: number;
  /** aggregate view: timed recomputes (one put before each) */
  readonly aggregateRounds: number;
  /** a suite child is killed after this long */
  readonly subjectTimeoutMs: number;
  readonly server: ServerBenchConfig;
  readonly cluster: ClusterBenchConfig;
  readonly attack: AttackBenchConfig;
}

/** The published workload: 10,000 keys × 10 versions; large DB 10,000 × 100. */
export const FULL: BenchConfig = {
  quick: false,
  keys: 10_000,
  versions: 10,
  largeKeys: 10_000,
  largeVersions: 100,
  batchSize: 1_000,
  writers: 64,
  runs: 3,
  runMs: 1_000,
  readRunMs: 700,
  warmupMs: 150,
  maxPasses: 30,
  fsyncSamples: 200,
  queryDocs: 100_000,
  indexedQueryDocs: 1_000_000,
  subscribers: 1_000,
  subscriberPuts: 500,
  viewRuns: 5,
  viewRunPuts: 20_000,
  aggregateRounds: 20,
  // The storage engine v2 builds the large database and imports it more slowly than the
  // previous format: the KoruDelta subject needs about 8 minutes on 2 cores.
  subjectTimeoutMs: 15 * 60_000,
  server: SERVER_FULL,
  cluster: CLUSTER_FULL,
  attack: ATTACK_FULL,
};

/** Smoke test: 1,000 keys, short runs, the indexed lookups on 100,000 documents. Figures are not comparable with the targets. */
export const QUICK: BenchConfig = {
  ...FULL,
  quick: true,
  keys: 1_000,
  largeKeys: 1_000,
  runMs: 250,
  readRunMs: 200,
  warmupMs: 50,
  fsyncSamples: 50,
  indexedQueryDocs: 100_000,
  subscriberPuts: 100,
  viewRuns: 3,
  viewRunPuts: 5_000,
  aggregateRounds: 10,
  subjectTimeoutMs: 3 * 60_000,
  server: {
    ...SERVER_FULL,
    httpWarmupSeconds: 1,
    httpMaxSeconds: 1.5,
    httpLatencySeconds: 1.5,
    wsWarmupMs: 300,
    wsRuns: 1,
    wsRunMs: 1_000,
    mixedSeconds: 4,
    mixedWarmupSeconds: 1,
    redisRequests: 30_000,
  },
  cluster: {
    ...CLUSTER_FULL,
    lagSeconds: 5,
    lagWarmupSeconds: 1,
    joinTimeoutSeconds: 60,
    partitionSeconds: 5,
    partitionWrites: 5_000,
    healTimeoutSeconds: 60,
    idleSettleSeconds: 35,
    idleSeconds: 10,
  },
  attack: {
    ...ATTACK_FULL,
    keys: 200,
    warmupMs: 300,
    baselineMs: 1_500,
    attackMs: 3_000,
    unauthSockets: 200,
    rampTimeoutMs: 5_000,
    regexLoops: 2,
    regexDocs: 20,
    stopGraceMs: 3_000,
  },
};
