/** Workload sizes and timing budgets; `--quick` shrinks them for a smoke test. */

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
  subjectTimeoutMs: 8 * 60_000,
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
};
