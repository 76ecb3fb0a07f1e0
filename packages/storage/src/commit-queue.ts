/**
 * The commit queue (group commit): puts issued in the same tick are stored by a single
 * version-store commit (one write-ahead-log record, synced once under `always`), then
 * acknowledged. A write is visible to readers only once the store has accepted it; if
 * the store fails, the failed writes and every write queued behind them are rejected and
 * nothing of them is stored. With an adapter whose writes cost no I/O (memory) and
 * nothing queued, a write commits at once. A batch waits while the tree asks writers to
 * (flushes or merges behind): backpressure, never an unbounded memtable. Applying a
 * batch releases its keys' queued state, then tells the appliers and commit listeners.
 * With an adapter that persists asynchronously (`whenDurable`), a batch is applied and
 * acknowledged only once that barrier resolved.
 */
import { isKoruError, type HlcStamp } from '@koru/engine';
// Only for the {@link} links of the doc comments.
import type { CausalStorage } from './causal-storage.js';
import { IoError } from './errors.js';
import type { Entry } from './lsm/types.js';
import { markPending, noop, pending, type PendingWrite, type StampedWrite } from './stamped-write.js';
import type { StoreContext } from './store-context.js';
import type { Version } from './types.js';
import type { NewVersion } from './version-store.js';

/** The queue of one store. */
export class CommitQueue {
  readonly #ctx: StoreContext;
  readonly #queuedForeign: Map<string, HlcStamp>;
  #queue: PendingWrite[] = [];
  #flushScheduled = false;
  #flushing: Promise<void> | undefined;
  readonly #listeners = new Set<(seq: number) => void>();
  readonly #appliers = new Set<(current: readonly Version[], all: readonly Version[]) => void>();

  /**
   * @param queuedForeign versions made elsewhere that are queued (filled by admission): each
   *   is forgotten once committed or failed
   */
  constructor(ctx: StoreContext, queuedForeign: Map<string, HlcStamp>) {
    this.#ctx = ctx;
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

  /** Nothing to batch with when persisting costs nothing: commit right away. */
  #canCommitNow(): boolean {
    return this.#ctx.adapter.synchronous && this.#queue.length === 0 && this.#flushing === undefined;
  }

  /** Commits `batch` synchronously; returns the store's error, if it failed (the writes are then failed). */
  #commitNow(batch: PendingWrite[]): unknown {
    let currents: boolean[];
    try {
      currents = this.#store(batch);
    } catch (e) {
      this.#failWrites(batch, e);
      return e;
    }
    this.#apply(batch, currents);
    return undefined;
  }

  /**
   * Stores a batch as one commit: which of its versions became their key's current one.
   * The horizon records some imported writes carry go in the same log batch.
   */
  #store(batch: readonly PendingWrite[]): boolean[] {
    const n = batch.length;
    const records = new Array<NewVersion>(n);
    const versions = new Array<Version>(n);
    let horizons: Entry[] | undefined;
    for (let i = 0; i < n; i++) {
      const w = batch[i]!;
      records[i] = w.record;
      versions[i] = w.version;
      if (w.horizon !== undefined) (horizons ??= []).push(w.horizon);
    }
    return this.#ctx.store.commit(records, versions, horizons);
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
      // Flushes or merges behind: wait (reads go on) rather than grow the memtable without bound.
      const wait = ctx.closed ? undefined : ctx.tree.writable();
      if (wait !== undefined) {
        try {
          await wait;
        } catch {
          // A failed flush is retried by the tree; the write below reports what is wrong now.
        }
      }
      const batch = this.#queue;
      this.#queue = [];
      let currents: boolean[];
      try {
        currents = this.#store(batch);
      } catch (e) {
        this.#failWrites(batch, e);
        continue;
      }
      // A directory that persists asynchronously (IndexedDB): acknowledged means persisted.
      const durable = ctx.adapter.whenDurable?.();
      if (durable !== undefined) {
        try {
          await durable;
        } catch (e) {
          // Stored in the tree but not persisted, and the adapter is now failed (it refuses
          // every later write and persist, so this batch can never reappear after a reload).
          this.#failWrites(batch, e);
          continue;
        }
      }
      this.#apply(batch, currents);
    }
  }

  #apply(batch: PendingWrite[], currents: readonly boolean[]): void {
    const ctx = this.#ctx;
    // Versions that became their key's current one (derived state follows only those).
    let current: Version[] | undefined;
    for (let i = 0; i < batch.length; i++) {
      const w = batch[i]!;
      const pk = w.pk;
      if (currents[i]) {
        if (current !== undefined) current.push(w.version);
      } else if (current === undefined) current = batch.slice(0, i).map((b) => b.version);
      ctx.merkle.touch(pk.namespace, pk.key, w.version.versionId, currents[i] === true);
      if (this.#queuedForeign.size > 0) this.#queuedForeign.delete(w.record.versionId);
      if (--pk.pending <= 0) {
        pk.pending = 0;
        pk.pendingId = undefined;
        ctx.pending.release(pk);
      }
      w.resolve(w.version);
    }
    if (this.#appliers.size > 0) {
      const all = batch.map((w) => w.version);
      for (const applier of this.#appliers) applier(current ?? all, all);
    }
    const seq = ctx.seq;
    for (const listener of this.#listeners) {
      try {
        listener(seq);
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
      this.#queuedForeign.delete(w.record.versionId);
      w.pk.pending = 0;
      w.pk.pendingId = undefined;
      this.#ctx.pending.release(w.pk);
      w.reject(error);
    }
  }
}
