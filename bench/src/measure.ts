/**
 * Timed loops. Each loop calls the store method directly (no per-op closure), awaits
 * only promises, and reads the clock every `checkEvery` ops so the clock costs nothing
 * next to the work it times.
 */
import type { VersionedStore } from './subject.js';
import { WARMUP_NAMESPACE, type Entry } from './workload.js';

/** Work done and wall time spent on it. */
export interface Timed {
  /** operations (or versions, for history and batches) completed */
  ops: number;
  ms: number;
}

/** Operations per second of a timing. */
export function perSecond(t: Timed): number {
  return t.ms > 0 ? (t.ops * 1000) / t.ms : 0;
}

/** Median of a non-empty list. */
export function median(values: ArrayLike<number>): number {
  const sorted = Array.from(values).sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Full collection when node runs with --expose-gc, so one measurement's garbage is not billed to the next. */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    gc();
  }
}

/** Puts `entries` in order, one awaited at a time, until done or `budgetMs` passed. */
export async function serialPuts(store: VersionedStore, entries: readonly Entry[], budgetMs: number, checkEvery: number): Promise<Timed> {
  const mask = checkEvery - 1;
  const n = entries.length;
  const t0 = performance.now();
  const deadline = t0 + budgetMs;
  let i = 0;
  while (i < n) {
    const e = entries[i]!;
    const r = store.put(e.namespace, e.key, e.value);
    if (r instanceof Promise) await r;
    i++;
    if ((i & mask) === 0 && performance.now() >= deadline) break;
  }
  return { ops: i, ms: performance.now() - t0 };
}

/**
 * `writers` async loops, each awaiting its own puts, sharing one cursor over `entries`,
 * until done or `budgetMs` passed (writes in flight then finish and are counted).
 */
export async function concurrentPuts(store: VersionedStore, entries: readonly Entry[], writers: number, budgetMs: number): Promise<Timed> {
  const n = entries.length;
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const deadline = t0 + budgetMs;
  const writer = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const e = entries[i]!;
      await store.put(e.namespace, e.key, e.value);
      done++;
      if (performance.now() >= deadline) return;
    }
  };
  const loops: Promise<void>[] = [];
  for (let w = 0; w < writers; w++) loops.push(writer());
  await Promise.all(loops);
  return { ops: done, ms: performance.now() - t0 };
}

/** Writes `batches` one awaited batch at a time until done or `budgetMs` passed; ops = versions written. */
export async function batchedPuts(store: VersionedStore, batches: readonly (readonly Entry[])[], budgetMs: number): Promise<Timed> {
  const t0 = performance.now();
  const deadline = t0 + budgetMs;
  let ops = 0;
  for (const batch of batches) {
    const r = store.putBatch(batch);
    if (r instanceof Promise) await r;
    ops += batch.length;
    if (performance.now() >= deadline) break;
  }
  return { ops, ms: performance.now() - t0 };
}

/** Short untimed put loop into the warm-up namespace: JIT, file growth and caches settle first. */
export async function warmUpPuts(store: VersionedStore, entries: readonly Entry[], maxOps: number, maxMs: number): Promise<void> {
  const deadline = performance.now() + maxMs;
  const n = Math.min(maxOps, entries.length);
  for (let i = 0; i < n; i++) {
    const e = entries[i]!;
    const r = store.put(WARMUP_NAMESPACE, e.key, e.value);
    if (r instanceof Promise) await r;
    if ((i & 15) === 15 && performance.now() >= deadline) break;
  }
}

const READ_CHECK_MASK = 255;

/** Reads current values of `keys[picks[i]]` (cycling through `picks`) for `budgetMs`. */
export async function timedGets(store: VersionedStore, namespace: string, keys: readonly string[], picks: Uint32Array, budgetMs: number): Promise<Timed> {
  const mask = picks.length - 1;
  let missing = 0;
  const t0 = performance.now();
  const deadline = t0 + budgetMs;
  let i = 0;
  for (;;) {
    let r = store.get(namespace, keys[picks[i & mask]!]!);
    if (r instanceof Promise) r = await r;
    if (r === undefined) missing++;
    i++;
    if ((i & READ_CHECK_MASK) === 0 && performance.now() >= deadline) break;
  }
  if (missing > 0) throw new Error(`get: ${missing} of ${i} reads found nothing`);
  return { ops: i, ms: performance.now() - t0 };
}

/** Reads whole histories for `budgetMs`; ops = versions returned (calls in `calls`). */
export async function timedHistories(
  store: VersionedStore,
  namespace: string,
  keys: readonly string[],
  picks: Uint32Array,
  budgetMs: number,
): Promise<Timed & { calls: number }> {
  const mask = picks.length - 1;
  let versions = 0;
  const t0 = performance.now();
  const deadline = t0 + budgetMs;
  let i = 0;
  for (;;) {
    let r = store.history(namespace, keys[picks[i & mask]!]!);
    if (r instanceof Promise) r = await r;
    versions += r.length;
    i++;
    if ((i & 63) === 0 && performance.now() >= deadline) break;
  }
  return { ops: versions, calls: i, ms: performance.now() - t0 };
}

/** Reads `keys[picks[i]]` as of `times[i]` for `budgetMs`. `picks` and `times` have the same power-of-two length. */
export async function timedGetAts(
  store: VersionedStore,
  namespace: string,
  keys: readonly string[],
  picks: Uint32Array,
  times: Float64Array,
  budgetMs: number,
): Promise<Timed> {
  const mask = picks.length - 1;
  let missing = 0;
  const t0 = performance.now();
  const deadline = t0 + budgetMs;
  let i = 0;
  for (;;) {
    const j = i & mask;
    let r = store.getAt(namespace, keys[picks[j]!]!, times[j]!);
    if (r instanceof Promise) r = await r;
    if (r === undefined) missing++;
    i++;
    if ((i & READ_CHECK_MASK) === 0 && performance.now() >= deadline) break;
  }
  if (missing > 0) throw new Error(`getAt: ${missing} of ${i} reads found nothing`);
  return { ops: i, ms: performance.now() - t0 };
}

/**
 * Calls `op(i)` for i = 0, 1, 2, ... (awaiting only promises) until `budgetMs` passed,
 * reading the clock every `checkEvery` calls (a power of two); ops = calls. Throws when
 * `ok` rejected any result (checked inside the loop: a wrong answer is never timed as a right one).
 */
export async function timedCalls<T>(op: (i: number) => T | Promise<T>, ok: (result: T, i: number) => boolean, budgetMs: number, checkEvery = 1): Promise<Timed> {
  const mask = checkEvery - 1;
  let wrong = 0;
  const t0 = performance.now();
  const deadline = t0 + budgetMs;
  let i = 0;
  for (;;) {
    let r = op(i);
    if (r instanceof Promise) r = await r;
    if (!ok(r as T, i)) wrong++;
    i++;
    if ((i & mask) === 0 && performance.now() >= deadline) break;
  }
  if (wrong > 0) throw new Error(`${wrong} of ${i} calls returned a wrong answer`);
  return { ops: i, ms: performance.now() - t0 };
}

/** The value at quantile `q` (0..1) of a non-empty list, nearest rank. */
export function percentile(values: ArrayLike<number>, q: number): number {
  const sorted = Array.from(values).sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
