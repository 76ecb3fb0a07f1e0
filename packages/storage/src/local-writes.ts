/**
 * Writes made on this node: arguments validated, the value canonicalized, compare-and-set
 * checked against the key's newest version (queued ones included), then stamped with
 * this node's clock and handed to the commit queue. A write that fails before it is
 * queued leaves no trace and rejects its promise.
 */
import { canonicalize, formatHlc, InvalidArgumentError, parseHlc, type Canonical, type HlcStamp } from '@koru/engine';
import type { CommitQueue } from './commit-queue.js';
import { KeyNotFoundError, VersionConflictError } from './errors.js';
import { SYSTEM_NAMESPACE, validateKey, validateNamespace } from './names.js';
import type { PendingKey } from './pending-keys.js';
import { markPending, stampedWrite, type StampedWrite } from './stamped-write.js';
import type { PutItem, WriteOptions } from './storage-options.js';
import type { StoreContext } from './store-context.js';
import type { Version } from './types.js';
// Only for the {@link} links of the doc comments.
import type { CausalStorage } from './causal-storage.js';

/** A key's newest version as the next write sees it: its id (null: none) and whether it is absent (none, or a tombstone). */
interface HeadState {
  readonly id: string | null;
  readonly absent: boolean;
}

/** The head of a key with no version. */
const NO_HEAD: HeadState = { id: null, absent: true };

/** Compare-and-set: `null` expects no live value (never written, or deleted); an id expects that head. */
function casMatches(head: HeadState, ifVersion: string | null | undefined): boolean {
  if (ifVersion === undefined) return true;
  if (ifVersion === null) return head.absent;
  return ifVersion === head.id;
}

/** The local write path of one store. */
export class LocalWrites {
  readonly #ctx: StoreContext;
  readonly #commits: CommitQueue;
  /**
   * The latest stamp (formatted) this clock gave out or observed here: the clock is at or
   * past it, and it only grows (see {@link LocalWrites.#head}).
   */
  #seenHlc = '';

  constructor(ctx: StoreContext, commits: CommitQueue) {
    this.#ctx = ctx;
    this.#commits = commits;
  }

  /**
   * The key's newest version, queued ones included (`pk`: the key's queued state, if
   * any). A stored head moves the clock past its stamp, so the write stamped next follows
   * it in clock order (and becomes current) even if the wall clock went back since it
   * was written.
   */
  #head(namespace: string, key: string, pk: PendingKey | undefined): HeadState {
    if (pk?.pendingId !== undefined) return { id: pk.pendingId, absent: pk.pendingDeleted };
    const ctx = this.#ctx;
    const head = ctx.store.head(namespace, key);
    if (head === undefined) return NO_HEAD;
    // Stamps share one fixed-width form that sorts in clock order: a head at or before a
    // stamp this clock already gave out or saw cannot move it (observe would do nothing),
    // so the parse is skipped — the common case, a key this process wrote last.
    if (head.hlc > this.#seenHlc) {
      ctx.clock.observe(parseHlc(head.hlc));
      this.#seenHlc = head.hlc;
    }
    return { id: head.versionId, absent: head.deleted };
  }

  /** See {@link CausalStorage.put}; with `system`, {@link CausalStorage.putSystem} (the reserved namespace). */
  put(namespace: string, key: string, value: unknown, options: WriteOptions | undefined, system: boolean): Promise<Version> {
    try {
      this.#ctx.checkWritable();
      if (!system) validateNamespace(namespace);
      validateKey(key);
      const canon = canonicalize(value, this.#ctx.limits);
      return this.#enqueueOne(namespace, key, canon, options?.ifVersion);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** See {@link CausalStorage.putMany}. */
  putMany(items: readonly PutItem[]): Promise<Version[]> {
    try {
      const ctx = this.#ctx;
      ctx.checkWritable();
      if (!Array.isArray(items)) throw new InvalidArgumentError('putMany expects an array of { namespace, key, value }');
      const n = items.length;
      const canons = new Array<Canonical>(n);
      for (let i = 0; i < n; i++) {
        const item = items[i]!;
        if (item === null || typeof item !== 'object') throw new InvalidArgumentError('putMany items must be objects');
        validateNamespace(item.namespace);
        validateKey(item.key);
        canons[i] = canonicalize(item.value, ctx.limits);
      }
      // Each key's queued state, then every compare-and-set checked before anything is
      // queued, so a conflict stores nothing (the states made here are released then).
      const pks = new Array<PendingKey>(n);
      const heads = new Map<PendingKey, HeadState>();
      const stamps = new Array<HlcStamp>(n);
      try {
        for (let i = 0; i < n; i++) {
          const item = items[i]!;
          const pk = (pks[i] = ctx.pending.acquire(item.namespace, item.key));
          // A second write to the same key in one batch cannot know the first one's id.
          const first = heads.get(pk);
          const head = first ?? this.#head(item.namespace, item.key, pk);
          if (item.ifVersion !== undefined && (first !== undefined || !casMatches(head, item.ifVersion))) {
            throw new VersionConflictError(item.namespace, item.key, item.ifVersion, first !== undefined ? '(earlier in this batch)' : head.id);
          }
          if (first === undefined) heads.set(pk, head);
        }
        // Every stamp first: a clock at the end of its format refuses before anything is marked pending.
        for (let i = 0; i < n; i++) stamps[i] = ctx.clock.tick();
      } catch (e) {
        for (const pk of pks) if (pk !== undefined) ctx.pending.release(pk);
        throw e;
      }
      const writes = new Array<StampedWrite>(n);
      let hlc = '';
      for (let i = 0; i < n; i++) {
        const pk = pks[i]!;
        const stamp = stamps[i]!;
        hlc = formatHlc(stamp);
        const w = stampedWrite(pk, canons[i]!, pk.pendingId ?? heads.get(pk)!.id, stamp, hlc, ctx.nodeId);
        markPending(w); // the next write to this key in the batch chains on it
        writes[i] = w;
      }
      if (n > 0) this.#seenHlc = hlc;
      return this.#commits.enqueueAll(writes);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** See {@link CausalStorage.delete}. */
  delete(namespace: string, key: string, options?: WriteOptions): Promise<Version> {
    try {
      this.#ctx.checkWritable();
      validateNamespace(namespace);
      validateKey(key);
      return this.#enqueueOne(namespace, key, null, options?.ifVersion);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** See {@link CausalStorage.deleteSystem}. */
  deleteSystem(key: string): Promise<Version> {
    try {
      this.#ctx.checkWritable();
      return this.#enqueueOne(SYSTEM_NAMESPACE, key, null, undefined);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * A write of `canon` (null: a tombstone, refused when the key holds no live value) to
   * the key, compare-and-set checked, stamped now and queued.
   */
  #enqueueOne(namespace: string, key: string, canon: Canonical | null, ifVersion: string | null | undefined): Promise<Version> {
    const ctx = this.#ctx;
    const head = this.#head(namespace, key, ctx.pending.get(namespace, key));
    if (canon === null && head.absent) throw new KeyNotFoundError(namespace, key);
    if (!casMatches(head, ifVersion)) throw new VersionConflictError(namespace, key, ifVersion ?? null, head.id);
    const stamp = ctx.clock.tick();
    const hlc = formatHlc(stamp);
    this.#seenHlc = hlc;
    const pk = ctx.pending.acquire(namespace, key);
    return this.#commits.enqueue(stampedWrite(pk, canon, head.id, stamp, hlc, ctx.nodeId));
  }
}
