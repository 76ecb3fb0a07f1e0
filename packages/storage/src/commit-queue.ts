/**
 * The commit queue (group commit): puts issued in the same tick are persisted by a single
 * adapter call, applied in order, then acknowledged. A write is visible to readers only
 * once the adapter has accepted it; if the adapter fails, the failed writes and every
 * write queued behind them are rejected and nothing of them is applied. With an adapter
 * whose appends are synchronous and free (memory) and nothing queued, a write commits at
 * once. Applying a batch places its versions in the index, then tells the appliers and
 * the commit listeners.
 */
import { isKoruError, type HlcStamp } from '@koru/engine';
import type { CommitEntry } from './adapter.js';
// Only for the {@link} links of the doc comments.
import type { CausalStorage } from './causal-storage.js';
import { IoError } from './errors.js';
import type { LiveLists } from './live-lists.js';
import { markPending, noop, pending, type PendingWrite, type StampedWrite } from './stamped-write.js';
import type { StoreContext } from './store-context.js';
import type { Version } from './types.js';
import { ValueIndex } from './value-index.js';
import { FLAG_DELETED } from './version-table.js';

/** The queue of one store. */
export class CommitQueue {
  readonly #ctx: StoreContext;
  readonly #liveLists: LiveLists;
  readonly #queuedForeign: Map<string, HlcStamp>;
  #values: ValueIndex | undefined;
  #queue: PendingWrite[] = [];
  #flushScheduled = false;
  #flushing: Promise<void> | undefined;
  readonly #listeners = new Set<(seq: number) => void>();
  readonly #appliers = new Set<(current: readonly Version[], all: readonly Version[]) => void>();

  /**
   * @param liveLists invalidated for each namespace a batch writes to
   * @param queuedForeign versions made elsewhere that are queued (filled by admission): each
   *   is forgotten once committed or failed
   */
  constructor(ctx: StoreContext, liveLists: LiveLists, queuedForeign: Map<string, HlcStamp>) {
    this.#ctx = ctx;
    this.#liveLists = liveLists;
    this.#queuedForeign = queuedForeign;
  }

  /** True while writes are queued or a flush is running. */
  get busy(): boolean {
    return this.#flushing !== undefined || this.#queue.length > 0;
  }

  /** The running flush, started first if none is: what to await while {@link busy}. */
  flush(): Promise<void> {
    if (this.#flushing === undefined) this.#startFlush();
    return this.#flushing!;
  }

  /** Commits one write (not yet marked pending): resolves to its version once applied. */
  enqueue(w: StampedWrite): Promise<Version> {
    markPending(w);
    if (this.#canCommitNow()) {
      const error = this.#commitNow([pending(w, noop, noop)]);
      return error === undefined ? Promise.resolve(w.version) : Promise.reject(error);
    }
    return new Promise<Version>((resolve, reject) => this.#queueWrite(pending(w, resolve, reject)));
  }

  /**
   * Commits `writes` (already marked pending) together, with one promise for all: they are
   * queued back to back, so one flush persists and applies them as one batch.
   */
  enqueueAll(writes: readonly StampedWrite[]): Promise<Version[]> {
    const versions = writes.map((w) => w.version);
    if (writes.length === 0) return Promise.resolve(versions);
    if (this.#canCommitNow()) {
      const error = this.#commitNow(writes.map((w) => pending(w, noop, noop)));
      return error === undefined ? Promise.resolve(versions) : Promise.reject(error);
    }
    return new Promise<Version[]>((resolve, reject) => {
      const last = writes.length - 1;
      for (let i = 0; i < last; i++) this.#queueWrite(pending(writes[i]!, noop, noop));
      // A failure rejects every write of the batch; the last one carries the promise.
      this.#queueWrite(pending(writes[last]!, () => resolve(versions), reject));
    });
  }

  /** See {@link CausalStorage.onCommit}. */
  onCommit(listener: (seq: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** See {@link CausalStorage.onApply}. */
  onApply(listener: (current: readonly Version[], all: readonly Version[]) => void): () => void {
    this.#appliers.add(listener);
    return () => this.#appliers.delete(listener);
  }

  /** Calls every commit listener once with -1 (the store closed), then forgets them all. */
  notifyClosed(): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(-1);
      } catch {
        // Closing goes on.
      }
    }
    this.#listeners.clear();
  }

  /** Writes a snapshot now and moves every row to the location the adapter gives. */
  snapshot(): void {
    const { adapter, index, reader } = this.#ctx;
    const reloc = adapter.snapshot({
      count: index.table.count,
      cols: index.table.trimmed(),
      nodes: index.nodes,
      keys: () => index.keys(),
      keyCount: index.keyCount(),
      seq: this.#ctx.seq,
    });
    if (reloc === null) return;
    index.table.cols.loc.set(reloc.loc);
    index.table.cols.len.set(reloc.len);
    reader.clear();
  }

  /** Nothing to batch with when persisting costs nothing: commit right away. */
  #canCommitNow(): boolean {
    return this.#ctx.adapter.synchronous && this.#queue.length === 0 && this.#flushing === undefined;
  }

  /** Commits `batch` synchronously; returns the adapter's error, if it failed (the writes are then failed). */
  #commitNow(batch: PendingWrite[]): unknown {
    const entries = this.#prepareBatch(batch);
    try {
      this.#ctx.adapter.append(entries);
    } catch (e) {
      this.#failWrites(batch, e);
      return e;
    }
    this.#apply(batch);
    return undefined;
  }

  #queueWrite(w: PendingWrite): void {
    this.#queue.push(w);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#startFlush);
    }
  }

  readonly #startFlush = (): void => {
    this.#flushScheduled = false;
    if (this.#flushing === undefined) this.#flushing = this.#flushLoop().finally(() => (this.#flushing = undefined));
  };

  async #flushLoop(): Promise<void> {
    const ctx = this.#ctx;
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      const entries = this.#prepareBatch(batch);
      try {
        const p = ctx.adapter.append(entries);
        if (p !== undefined) await p;
      } catch (e) {
        this.#failWrites(batch, e);
        continue;
      }
      this.#apply(batch);
    }
    if (!ctx.closed && ctx.adapter.wantsSnapshot()) {
      try {
        this.snapshot();
      } catch {
        // An automatic snapshot only saves replay time: its writes are already
        // acknowledged and in the log. The adapter tries again on a later flush, or
        // refuses further writes itself if it cannot go on safely. Rethrowing would
        // reject a promise nobody awaits.
      }
    }
  }

  /** Numbers the entries and stores each distinct value once. */
  #prepareBatch(batch: PendingWrite[]): CommitEntry[] {
    const values = this.#valueIndex();
    const cols = this.#ctx.index.table.cols;
    let firstOfBatch: Map<string, CommitEntry> | undefined;
    const entries = new Array<CommitEntry>(batch.length);
    let seq = this.#ctx.seq;
    for (let i = 0; i < batch.length; i++) {
      const e = batch[i]!.entry;
      (e as { seq: number }).seq = ++seq;
      entries[i] = e;
      if (e.valueId === null) continue;
      const row = values.find(e.valueId);
      if (row >= 0) {
        e.valueText = null;
        e.loc = cols.loc[row]!;
        e.len = cols.len[row]!;
        continue;
      }
      firstOfBatch ??= new Map();
      const first = firstOfBatch.get(e.valueId);
      if (first === undefined) firstOfBatch.set(e.valueId, e);
      else {
        e.valueText = null;
        e.sameAs = first;
      }
    }
    return entries;
  }

  #apply(batch: PendingWrite[]): void {
    const ctx = this.#ctx;
    const index = ctx.index;
    const values = this.#valueIndex();
    const own = ctx.nodeId;
    const ownIx = index.nodeIndex(own);
    // Versions that became their key's current one (derived state follows only those).
    let current: Version[] | undefined;
    for (let i = 0; i < batch.length; i++) {
      const w = batch[i]!;
      const e = w.entry;
      const ks = w.ks;
      const node = e.node === own ? ownIx : index.nodeIndex(e.node);
      if (e.sameAs !== null) {
        e.loc = e.sameAs.loc;
        e.len = e.sameAs.len;
      }
      const placed = index.place(ks, w.wall, w.logical, e, node);
      this.#liveLists.invalidate(ks.namespace);
      if (e.valueText !== null) values.add(placed.row);
      if (placed.current) {
        ks.head = w.version;
        if (current !== undefined) current.push(w.version);
      } else if (current === undefined) current = batch.slice(0, i).map((b) => b.version);
      ctx.merkle.touch(ks);
      if (this.#queuedForeign.size > 0) this.#queuedForeign.delete(e.versionId);
      if (--ks.pending === 0) ks.pendingId = undefined;
      ctx.seq = e.seq;
      w.resolve(w.version);
    }
    if (this.#appliers.size > 0) {
      const all = batch.map((w) => w.version);
      for (const applier of this.#appliers) applier(current ?? all, all);
    }
    for (const listener of this.#listeners) {
      try {
        listener(ctx.seq);
      } catch {
        // A listener's failure is its own; the commit stands.
      }
    }
  }

  #failWrites(batch: PendingWrite[], cause: unknown): void {
    // Writes queued behind a failed batch may chain on it: they fail too.
    const all = batch.concat(this.#queue);
    this.#queue = [];
    const error = isKoruError(cause) ? cause : new IoError(`write failed: ${String(cause)}`, cause);
    for (const w of all) {
      this.#queuedForeign.delete(w.entry.versionId);
      w.ks.pending = 0;
      w.ks.pendingId = undefined;
      this.#ctx.index.dropIfEmpty(w.ks);
      w.reject(error);
    }
  }

  /** Where each distinct stored value is (so a value written again is stored once). */
  #valueIndex(): ValueIndex {
    if (this.#values !== undefined) return this.#values;
    // Built on the first write after a load, so opening stays fast.
    const t = this.#ctx.index.table;
    const idx = new ValueIndex(t, Math.max(1024, t.count));
    const flags = t.cols.flags;
    for (let r = 0; r < t.count; r++) if ((flags[r]! & FLAG_DELETED) === 0 && idx.find(t.valueId(r)!) < 0) idx.add(r);
    this.#values = idx;
    return idx;
  }
}
