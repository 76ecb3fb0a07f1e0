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
 * acknowledged only once that barrier resolved; a barrier that rejects fails the batch
 * and the store (StoreContext.fail: every later read and write throws, reopen), since the
 * refused batch already sits in the tree in memory.
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

/** Schedules the queue's microtask (a reaction of this promise is cheaper than queueMicrotask). */
const RESOLVED = Promise.resolve();

/** The queue of one store. */
export class CommitQueue {
  readonly #ctx: StoreContext;
  readonly #queuedForeign: Map<string, HlcStamp>;
  #queue: PendingWrite[] = [];
  #flushScheduled = false;
  #flushing: Promise<void> | undefined;
  /** True while {@link #startFlush} commits queued batches synchronously (nothing to await). */
  #draining = false;
  /** Settlers of {@link flush} calls made while draining. */
  #drained: (() => void)[] | undefined;
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
    return this.#flushing !== undefined || this.#draining || this.#queue.length > 0;
  }

  /** The running flush, started first if none is: what to await while {@link busy}. */
  flush(): Promise<void> {
    if (this.#flushing === undefined && !this.#draining) this.#startFlush();
    if (this.#flushing !== undefined) return this.#flushing;
    // Called from a listener while the queue drains synchronously: settled once it is drained.
    if (this.#draining) return new Promise<void>((resolve) => (this.#drained ??= []).push(resolve));
    return Promise.resolve();
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
    return this.#ctx.adapter.synchronous && this.#queue.length === 0 && this.#flushing === undefined && !this.#draining;
  }

  /**
   * True when the next queued batch can be stored and acknowledged without awaiting
   * anything: the tree asks no writer to wait, and the adapter has no durability barrier
   * (its writes are as durable as it promises once stored, as a file's under either
   * sync policy: the log is written, and under `always` synced, before the call returns).
   */
  #readyNow(): boolean {
    const ctx = this.#ctx;
    return ctx.adapter.whenDurable === undefined && (ctx.closed || ctx.failure !== undefined || ctx.tree.writable() === undefined);
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
      // A resolved promise's reaction rather than queueMicrotask, which in Node wraps
      // each callback in an async resource (measured ~4x the cost, once per batch).
      void RESOLVED.then(this.#startFlush);
    }
  }

  /**
   * Commits what is queued: synchronously while nothing needs awaiting (the common case:
   * no promise, no async frame per batch), then, if a batch must wait (backpressure, a
   * durability barrier), in {@link #flushLoop}.
   */
  readonly #startFlush = (): void => {
    this.#flushScheduled = false;
    if (this.#flushing !== undefined || this.#draining) return;
    this.#draining = true;
    try {
      while (this.#queue.length > 0 && this.#readyNow()) {
        const taken = this.#take();
        if (taken !== undefined) this.#apply(taken.batch, taken.currents);
      }
    } finally {
      this.#draining = false;
    }
    if (this.#queue.length > 0) this.#flushing = this.#flushLoop().finally(() => (this.#flushing = undefined));
    const waiting = this.#drained;
    if (waiting !== undefined) {
      this.#drained = undefined;
      const done = this.#flushing ?? Promise.resolve();
      for (const resolve of waiting) void done.then(resolve);
    }
  };

  /**
   * Takes the queued writes as one batch and stores it: the batch and which of its
   * versions became current, or undefined when it failed (its writes, and those queued
   * behind, are then rejected).
   */
  #take(): { batch: PendingWrite[]; currents: boolean[] } | undefined {
    const ctx = this.#ctx;
    const batch = this.#queue;
    this.#queue = [];
    // Writes that passed their check before the store failed (below) must not reach the tree.
    if (ctx.failure !== undefined) {
      this.#failWrites(batch, ctx.failure);
      return undefined;
    }
    try {
      return { batch, currents: this.#store(batch) };
    } catch (e) {
      this.#failWrites(batch, e);
      return undefined;
    }
  }

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
      const taken = this.#take();
      if (taken === undefined) continue;
      const { batch, currents } = taken;
      // A directory that persists asynchronously (IndexedDB): acknowledged means persisted.
      const durable = ctx.adapter.whenDurable?.();
      if (durable !== undefined) {
        try {
          await durable;
        } catch (e) {
          // Stored in the tree but not persisted, and the adapter is now failed (it refuses
          // every later write and persist, so this batch can never reappear after a reload).
          // But the tree in memory has it: the store is failed too, so no read returns it.
          this.#failWrites(batch, ctx.fail(e));
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
