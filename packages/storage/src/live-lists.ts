/**
 * The live versions of a namespace, one per key: now, at a time, or right after a
 * change. Each is a walk of the namespace's head records in the version store (one range
 * scan); the current ones of a namespace that fits the scan cache's budget are kept for
 * the next scan (see scan-cache.ts), so repeated queries without an index do not read
 * and parse every value each time. A namespace larger than the budget streams.
 */
import { InvalidArgumentError } from '@koru/engine';
import { SYSTEM_NAMESPACE, validateNamespace } from './names.js';
import type { StoreContext } from './store-context.js';
import type { Version } from './types.js';
import { ScanCache } from './scan-cache.js';
import { keyPrefix } from './version-records.js';
// Only for the {@link} links of the doc comments.
import type { CausalStorage } from './causal-storage.js';

/** The live reads of one store. */
export class LiveLists {
  readonly #ctx: StoreContext;
  readonly #cache: ScanCache;

  /** @param scanCacheBytes the budget of kept namespace lists (see scan-cache.ts) */
  constructor(ctx: StoreContext, scanCacheBytes: number) {
    this.#ctx = ctx;
    this.#cache = new ScanCache(scanCacheBytes);
  }

  /** Notes versions that became current (from the commit queue's appliers). */
  applied(current: readonly Version[]): void {
    this.#cache.applied(current, (v) => keyPrefix(v.namespace, v.key));
  }

  /** See {@link CausalStorage.entries}. */
  entries(namespace: string, atMs?: number): Iterable<Version> {
    this.#ctx.checkOpen();
    validateNamespace(namespace);
    if (atMs !== undefined && (typeof atMs !== 'number' || Number.isNaN(atMs))) {
      throw new InvalidArgumentError(`entries expects a time in ms since the epoch, got ${String(atMs)}`);
    }
    const store = this.#ctx.store;
    return atMs === undefined ? this.live(namespace) : this.#liveAt(namespace, (key) => store.at(namespace, key, atMs));
  }

  /** See {@link CausalStorage.entriesAsOf}. */
  entriesAsOf(namespace: string, seq: number): Iterable<Version> {
    const ctx = this.#ctx;
    ctx.checkOpen();
    validateNamespace(namespace);
    if (!Number.isInteger(seq) || seq < 0 || seq > ctx.seq) {
      throw new InvalidArgumentError(`no state after change ${String(seq)}: changes are numbered 1 to ${ctx.seq}`);
    }
    return this.#liveAt(namespace, (key) => ctx.store.atSeq(namespace, key, seq));
  }

  /** See {@link CausalStorage.liveVersionsOf}. */
  liveVersionsOf(namespace: string, keys: Iterable<string>, ordered: boolean): Version[] {
    const ctx = this.#ctx;
    ctx.checkOpen();
    validateNamespace(namespace);
    const found: Version[] = [];
    for (const key of keys) {
      const head = ctx.headOf(namespace, key);
      if (head !== undefined && !head.deleted) found.push(head);
    }
    // The order `entries` lists keys in: their records' order (UTF-8 bytes of the key).
    if (ordered && found.length > 1) {
      const order = new Map(found.map((v) => [v, keyPrefix(namespace, v.key)]));
      found.sort((a, b) => (order.get(a)! < order.get(b)! ? -1 : 1));
    }
    return found;
  }

  /** The namespace's live heads, in key order: the kept list, or read (and kept when it fits). */
  live(namespace: string): Iterable<Version> {
    const kept = this.#cache.get(namespace);
    if (kept !== undefined) return kept;
    if (!this.#cache.fits(this.#ctx.store.counters.liveKeys(namespace))) return this.#stream(namespace);
    const versions = [...this.#stream(namespace)];
    this.#cache.put(namespace, versions, versions.map((v) => keyPrefix(namespace, v.key)));
    return versions;
  }

  *#stream(namespace: string): Generator<Version> {
    // The version itself carries key and value: no object per entry.
    for (const v of this.#ctx.store.heads(namespace)) if (!v.deleted) yield v;
  }

  /** The database's own live records, in the order first written (definitions may build on earlier ones). */
  systemEntries(): Version[] {
    const store = this.#ctx.store;
    // Streamed, not through live(): read at open (by the index and view sets), where
    // sizing the scan cache would scan every namespace's live-key counter first.
    const found = [...this.#stream(SYSTEM_NAMESPACE)];
    const first = new Map(found.map((v) => [v, store.history(SYSTEM_NAMESPACE, v.key, undefined)[0]!.hlc]));
    return found.sort((a, b) => (first.get(a)! < first.get(b)! ? -1 : first.get(a)! > first.get(b)! ? 1 : 0));
  }

  /** The live versions of a namespace, one per key as `pick` chooses it. */
  *#liveAt(namespace: string, pick: (key: string) => Version | undefined): Generator<Version> {
    for (const { key } of this.#ctx.store.keys(namespace)) {
      const v = pick(key);
      if (v !== undefined && !v.deleted) yield v;
    }
  }
}
