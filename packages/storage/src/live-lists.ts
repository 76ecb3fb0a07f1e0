/**
 * The live versions of a namespace, one per key: now (kept as an array per namespace
 * until the next commit to it, so repeated scans between writes walk an array, not the
 * key map), at a time, or right after a change.
 */
import { InvalidArgumentError } from '@koru/engine';
import type { KeyState } from './key-index.js';
import { validateNamespace } from './names.js';
import type { StoreContext } from './store-context.js';
import type { Version } from './types.js';
// Only for the {@link} links of the doc comments.
import type { CausalStorage } from './causal-storage.js';

/** The live reads of one store, with its per-namespace lists. */
export class LiveLists {
  readonly #ctx: StoreContext;
  /** Per namespace, its live heads as of the last commit to it (see {@link list}). */
  readonly #lists = new Map<string, readonly Version[]>();

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Forgets the namespace's list: a version of it was just committed. */
  invalidate(namespace: string): void {
    if (this.#lists.size > 0) this.#lists.delete(namespace);
  }

  /** See {@link CausalStorage.entries}. */
  entries(namespace: string, atMs?: number): Iterable<Version> {
    this.#ctx.checkOpen();
    validateNamespace(namespace);
    if (atMs !== undefined && (typeof atMs !== 'number' || Number.isNaN(atMs))) {
      throw new InvalidArgumentError(`entries expects a time in ms since the epoch, got ${String(atMs)}`);
    }
    const index = this.#ctx.index;
    return atMs === undefined ? this.list(namespace) : this.#liveAt(namespace, (ks) => index.indexAt(ks, atMs));
  }

  /** See {@link CausalStorage.entriesAsOf}. */
  entriesAsOf(namespace: string, seq: number): Iterable<Version> {
    const ctx = this.#ctx;
    ctx.checkOpen();
    validateNamespace(namespace);
    if (!Number.isInteger(seq) || seq < 0 || seq > ctx.seq) {
      throw new InvalidArgumentError(`no state after change ${String(seq)}: changes are numbered 1 to ${ctx.seq}`);
    }
    // Change seq is row seq - 1: the state after it holds the rows below seq.
    return this.#liveAt(namespace, (ks) => ctx.index.indexBeforeRow(ks, seq));
  }

  /** See {@link CausalStorage.liveVersionsOf}. */
  liveVersionsOf(namespace: string, keys: Iterable<string>, ordered: boolean): Version[] {
    const ctx = this.#ctx;
    ctx.checkOpen();
    validateNamespace(namespace);
    const { index, reader } = ctx;
    const found: KeyState[] = [];
    for (const key of keys) {
      const ks = index.keyState(namespace, key, false);
      if (ks !== undefined && index.isLive(ks)) found.push(ks);
    }
    // A key's first row orders keys as the namespace's map does: by first write.
    if (ordered) found.sort((a, b) => a.rows[0]! - b.rows[0]!);
    return found.map((ks) => reader.head(ks)!);
  }

  /**
   * The namespace's live heads as an array, kept until the next commit to the namespace:
   * repeated scans between writes walk an array, not the key map.
   */
  list(namespace: string): readonly Version[] {
    let list = this.#lists.get(namespace);
    if (list === undefined) {
      list = [...this.live(namespace)];
      this.#lists.set(namespace, list);
    }
    return list;
  }

  /** The namespace's live heads, in the order keys were first written. */
  *live(namespace: string): Generator<Version> {
    const { index, reader } = this.#ctx;
    for (const ks of index.namespaceKeys(namespace)) {
      const n = ks.rows.length;
      if (n === 0 || index.isDeleted(ks.rows[n - 1]!)) continue;
      // The version itself carries key and value: no object per entry.
      yield ks.head ?? reader.head(ks)!;
    }
  }

  /** The live versions of a namespace at the index of its rows `indexOf` picks for each key. */
  *#liveAt(namespace: string, indexOf: (ks: KeyState) => number): Generator<Version> {
    const { index, reader } = this.#ctx;
    for (const ks of index.namespaceKeys(namespace)) {
      if (ks.rows.length === 0) continue;
      const i = indexOf(ks);
      if (i < 0 || index.isDeleted(ks.rows[i]!)) continue;
      yield reader.at(ks, i);
    }
  }
}
