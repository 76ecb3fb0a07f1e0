/**
 * One phase of the engine bench on one store, in a fresh process (started by
 * engine-bench.ts with node --expose-gc): it loads only that store's library, does the
 * phase, and sends one report over IPC. Every answer is checked; a wrong one throws.
 *
 * Phases: `load` (build the store), `reads` (open + first get, cold and cached gets,
 * RSS), `scans` (histories cold and warm), `durable` (single durable puts, durable
 * batches), `compact` (LsmTree only: durable puts while a full merge runs).
 */
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { sendToParent } from './child.js';
import { collectGarbage, percentile } from './measure.js';
import { BATCH, isValueOf, randomNames, randomPicks, type Shape } from './engine-workload.js';
import { loadStore, type EngineStore, type StoreId } from './engine-store.js';

/** Arguments of a phase. */
export interface PhaseArgs {
  readonly store: StoreId;
  readonly dir: string;
  readonly phase: 'load' | 'reads' | 'scans' | 'durable' | 'compact';
  readonly shape: Shape;
  /** Seed of this run's random picks. */
  readonly seed: number;
  /** Random gets per pass (`reads`). */
  readonly gets: number;
  /** Names whose history is read per pass (`scans`). */
  readonly scanNames: number;
  /** Single durable puts timed, and batches of 1,000 (`durable`). */
  readonly singlePuts: number;
  readonly batches: number;
}

/** Latencies and event-loop delay of a series of single puts. */
export interface PutSeries {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Max and p99 event-loop delay of the main thread meanwhile (ms). */
  readonly loopMax: number;
  readonly loopP99: number;
}

/** What a phase reports (the fields of its phase). */
export type PhaseReport =
  | { readonly phase: 'load'; readonly writeMs: number; readonly settleMs: number; readonly closeMs: number; readonly entries: number; readonly engine?: unknown }
  | {
      readonly phase: 'reads';
      readonly openFirstGetMs: number;
      /** The open alone (the rest is the first get). */
      readonly openMs: number;
      readonly coldMs: number;
      readonly cachedMs: number;
      readonly gets: number;
      readonly baselineRss: number;
      readonly rss: number;
      readonly engine?: unknown;
    }
  | { readonly phase: 'scans'; readonly entries: number; readonly coldMs: number; readonly warmMs: number }
  | { readonly phase: 'durable'; readonly single: PutSeries; readonly batchEntries: number; readonly batchMs: number }
  | { readonly phase: 'compact'; readonly during: PutSeries; readonly mergeMs: number; readonly quietMergeMs: number; readonly quietLoopMax: number; readonly engine?: unknown };

/** Rounds the phases that write use, above the loaded ones, so no two phases write the same key. */
const ROUND_SINGLE = 1000;
const ROUND_BATCH = 2000;
const ROUND_COMPACT = 100_000;

async function settle(): Promise<void> {
  collectGarbage();
  await sleep(50);
  collectGarbage();
}

/** Times one put at a time (yielding to the event loop between them) until `until()` is true or `max` done. */
async function putSeries(store: EngineStore, shape: Shape, firstRound: number, max: number, until: () => boolean): Promise<PutSeries> {
  const lat: number[] = [];
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  for (let j = 0; j < max && !until(); j++) {
    const name = j % shape.names;
    const round = firstRound + Math.floor(j / shape.names);
    const t0 = performance.now();
    const r = store.putOne(name, round);
    if (r instanceof Promise) await r;
    lat.push(performance.now() - t0);
    await yieldToLoop();
  }
  await letLoopRecord();
  loop.disable();
  return { count: lat.length, p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), max: lat.reduce((m, x) => (x > m ? x : m), 0), ...loopOf(loop) };
}

/**
 * Lets the delay monitor's timer fire once more before it is read: a stall that ended in
 * the last task is recorded only when that timer next runs (a promise resolved right
 * after the stall would otherwise read the histogram first).
 */
async function letLoopRecord(): Promise<void> {
  await sleep(5);
}

function loopOf(h: IntervalHistogram): { loopMax: number; loopP99: number } {
  return { loopMax: h.max / 1e6, loopP99: h.percentile(99) / 1e6 };
}

/** Engine state of an LsmTree store, for the notes (undefined for the peers). */
async function engineStats(args: PhaseArgs, store: EngineStore): Promise<unknown> {
  if (args.store !== 'koru') return undefined;
  const { treeOf } = await import('./engine-store-koru.js');
  return treeOf(store).stats();
}

async function load(args: PhaseArgs): Promise<PhaseReport> {
  const mod = await loadStore(args.store);
  const store = await mod.openStore(args.dir, 'load', mod.makeKeys(args.shape));
  const { names, rounds } = args.shape;
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    for (let from = 0; from < names; from += BATCH) {
      const w = store.writeBatch(r, from, Math.min(names, from + BATCH));
      if (w instanceof Promise) await w;
    }
  }
  const writeMs = performance.now() - t0;
  const engine = await engineStats(args, store);
  // A store that keeps running finishes the merges its load left behind: wait for them,
  // so later phases measure the store as it settles, not a backlog (timed on its own).
  const t1 = performance.now();
  if (args.store === 'koru') {
    const { treeOf } = await import('./engine-store-koru.js');
    await treeOf(store).idle();
  }
  const settleMs = performance.now() - t1;
  const t2 = performance.now();
  await store.close();
  return { phase: 'load', writeMs, settleMs, closeMs: performance.now() - t2, entries: names * rounds, engine };
}

async function reads(args: PhaseArgs): Promise<PhaseReport> {
  const mod = await loadStore(args.store);
  const builder = mod.makeKeys(args.shape);
  const picks = randomPicks(args.shape, args.gets, args.seed);
  const keys = Array.from({ length: args.gets }, (_, i) => builder.key(picks.names[i]!, picks.rounds[i]!));
  await settle();
  const baselineRss = process.memoryUsage().rss;

  const t0 = performance.now();
  const store = await mod.openStore(args.dir, 'load', builder);
  const openMs = performance.now() - t0;
  const first = store.get(keys[0]!);
  const openFirstGetMs = performance.now() - t0;
  if (!isValueOf(first, picks.names[0]!, picks.rounds[0]!)) throw new Error('first get: wrong answer');

  const pass = (): number => {
    let wrong = 0;
    const t = performance.now();
    for (let i = 0; i < keys.length; i++) if (!isValueOf(store.get(keys[i]!), picks.names[i]!, picks.rounds[i]!)) wrong++;
    const ms = performance.now() - t;
    if (wrong > 0) throw new Error(`get: ${wrong} of ${keys.length} answers wrong`);
    return ms;
  };
  const coldMs = pass();
  const cachedMs = pass();
  await settle();
  const rss = process.memoryUsage().rss;
  const engine = await engineStats(args, store);
  await store.close();
  return { phase: 'reads', openFirstGetMs, openMs, coldMs, cachedMs, gets: keys.length, baselineRss, rss, engine };
}

async function scans(args: PhaseArgs): Promise<PhaseReport> {
  const mod = await loadStore(args.store);
  const store = await mod.openStore(args.dir, 'load', mod.makeKeys(args.shape));
  const names = randomNames(args.shape, args.scanNames, args.seed);
  const pass = (): { entries: number; ms: number } => {
    let entries = 0;
    const t = performance.now();
    for (const name of names) {
      const n = store.scan(name);
      if (n !== args.shape.rounds) throw new Error(`scan of name ${name}: ${n} entries, ${args.shape.rounds} expected`);
      entries += n;
    }
    return { entries, ms: performance.now() - t };
  };
  const cold = pass();
  const warm = pass();
  await store.close();
  return { phase: 'scans', entries: cold.entries, coldMs: cold.ms, warmMs: warm.ms };
}

async function durable(args: PhaseArgs): Promise<PhaseReport> {
  const mod = await loadStore(args.store);
  const store = await mod.openStore(args.dir, 'durable', mod.makeKeys(args.shape));
  const { names } = args.shape;
  // Warm-up: JIT, file handles, the first append to a new log.
  await putSeries(store, args.shape, ROUND_SINGLE - 1, Math.min(50, names), () => false);
  const single = await putSeries(store, args.shape, ROUND_SINGLE, args.singlePuts, () => false);
  const t0 = performance.now();
  let entries = 0;
  for (let b = 0; b < args.batches; b++) {
    const from = (b * BATCH) % names;
    const to = Math.min(names, from + BATCH);
    const w = store.writeBatch(ROUND_BATCH + Math.floor((b * BATCH) / names), from, to);
    if (w instanceof Promise) await w;
    entries += to - from;
  }
  const batchMs = performance.now() - t0;
  await store.close();
  return { phase: 'durable', single, batchEntries: entries, batchMs };
}

async function compact(args: PhaseArgs): Promise<PhaseReport> {
  if (args.store !== 'koru') throw new Error('the compact phase is the LsmTree\'s');
  const mod = await loadStore(args.store);
  const store = await mod.openStore(args.dir, 'durable', mod.makeKeys(args.shape));
  const { treeOf } = await import('./engine-store-koru.js');
  const tree = treeOf(store);
  await putSeries(store, args.shape, ROUND_COMPACT - 1, Math.min(50, args.shape.names), () => false);

  // A full merge with durable puts going on, one at a time.
  let done = false;
  let failed: unknown;
  const t0 = performance.now();
  const merge = tree.compact().then(
    () => {
      done = true;
    },
    (e: unknown) => {
      failed = e;
      done = true;
    },
  );
  const during = await putSeries(store, args.shape, ROUND_COMPACT, Number.MAX_SAFE_INTEGER, () => done);
  await merge;
  const mergeMs = performance.now() - t0;
  if (failed !== undefined) throw failed;

  // The same merge with nothing else going on: what the merge alone costs the main thread.
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const t1 = performance.now();
  await tree.compact();
  const quietMergeMs = performance.now() - t1;
  await letLoopRecord();
  loop.disable();
  const engine = tree.stats();
  await store.close();
  return { phase: 'compact', during, mergeMs, quietMergeMs, quietLoopMax: loopOf(loop).loopMax, engine };
}

const PHASES = { load, reads, scans, durable, compact } as const;

const args = JSON.parse(process.argv[2]!) as PhaseArgs;
try {
  const report = await PHASES[args.phase](args);
  await sendToParent({ type: 'report', report });
  process.exit(0);
} catch (error) {
  await sendToParent({ type: 'problem', message: `${args.store} ${args.phase}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}` });
  process.exit(1);
}
