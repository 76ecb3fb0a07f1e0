/**
 * Writes made on this node: arguments validated, the value canonicalized, compare-and-set
 * checked against the key's newest version (queued ones included), then stamped with
 * this node's clock and handed to the commit queue. A write that fails before it is
 * queued leaves no trace and rejects its promise.
 */
import { canonicalize, formatHlc, InvalidArgumentError, parseHlc, type Canonical } from '@koru/engine';
import type { CommitQueue } from './commit-queue.js';
import { KeyNotFoundError, VersionConflictError } from './errors.js';
import { SYSTEM_NAMESPACE, validateKey, validateNamespace } from './names.js';
import { markPending, stampedWrite } from './stamped-write.js';
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

  constructor(ctx: StoreContext, commits: CommitQueue) {
    this.#ctx = ctx;
    this.#commits = commits;
  }

  /**
   * The key's newest version, queued ones included. A stored head moves the clock past
   * its stamp, so the write stamped next follows it in clock order (and becomes current)
   * even if the wall clock went back since it was written.
   */
  #head(namespace: string, key: string): HeadState {
    const ctx = this.#ctx;
    const pk = ctx.pending.get(namespace, key);
    if (pk?.pendingId !== undefined) return { id: pk.pendingId, absent: pk.pendingDeleted };
    const head = ctx.store.head(namespace, key);
    if (head === undefined) return { id: null, absent: true };
    ctx.clock.observe(parseHlc(head.hlc));
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
      const canons: Canonical[] = [];
      for (const item of items) {
        if (item === null || typeof item !== 'object') throw new InvalidArgumentError('putMany items must be objects');
        validateNamespace(item.namespace);
        validateKey(item.key);
        canons.push(canonicalize(item.value, ctx.limits));
      }
      // Check every compare-and-set before queueing anything, so a conflict stores nothing.
      const heads = new Map<string, HeadState>();
      for (const item of items) {
        const id = `${item.namespace}\u0000${item.key}`;
        // A second write to the same key in one batch cannot know the first one's id.
        const seen = heads.has(id);
        const head = heads.get(id) ?? this.#head(item.namespace, item.key);
        if (item.ifVersion !== undefined && (seen || !casMatches(head, item.ifVersion))) {
          throw new VersionConflictError(item.namespace, item.key, item.ifVersion, seen ? '(earlier in this batch)' : head.id);
        }
        heads.set(id, head);
      }
      // Every stamp first: a clock at the end of its format refuses before anything is marked pending.
      const stamps = items.map(() => ctx.clock.tick());
      const writes = items.map((item, i) => {
        const pk = ctx.pending.acquire(item.namespace, item.key);
        const stamp = stamps[i]!;
        const prev = pk.pendingId ?? heads.get(pk.id)!.id;
        const w = stampedWrite(pk, canons[i]!, prev, stamp, formatHlc(stamp), ctx.nodeId);
        markPending(w); // the next write to this key in the batch chains on it
        return w;
      });
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
    const head = this.#head(namespace, key);
    if (canon === null && head.absent) throw new KeyNotFoundError(namespace, key);
    if (!casMatches(head, ifVersion)) throw new VersionConflictError(namespace, key, ifVersion ?? null, head.id);
    const stamp = ctx.clock.tick();
    const pk = ctx.pending.acquire(namespace, key);
    return this.#commits.enqueue(stampedWrite(pk, canon, head.id, stamp, formatHlc(stamp), ctx.nodeId));
  }
}
