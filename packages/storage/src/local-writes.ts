/**
 * Writes made on this node: arguments validated, the value canonicalized, compare-and-set
 * checked against the key's newest version (queued ones included), then stamped with
 * this node's clock and handed to the commit queue. A write that fails before it is
 * queued leaves no trace (a key it created is dropped again) and rejects its promise.
 */
import { canonicalize, formatHlc, InvalidArgumentError, type Canonical } from '@koru/engine';
import type { CommitQueue } from './commit-queue.js';
import { KeyNotFoundError, VersionConflictError } from './errors.js';
import type { KeyIndex, KeyState } from './key-index.js';
import { SYSTEM_NAMESPACE, validateKey, validateNamespace } from './names.js';
import { markPending, stampedWrite } from './stamped-write.js';
import type { PutItem, WriteOptions } from './storage-options.js';
import type { StoreContext } from './store-context.js';
import type { Version } from './types.js';
// Only for the {@link} links of the doc comments.
import type { CausalStorage } from './causal-storage.js';

/** True when the key's newest version (queued ones included) is a tombstone or there is none. */
function isAbsent(index: KeyIndex, ks: KeyState | undefined): boolean {
  if (ks === undefined) return true;
  if (ks.pendingId !== undefined) return ks.pendingDeleted;
  return ks.rows.length === 0 || index.isDeleted(ks.rows[ks.rows.length - 1]!);
}

/** The id of the key's newest version, queued ones included (null: none). */
function pendingHeadId(index: KeyIndex, ks: KeyState): string | null {
  if (ks.pendingId !== undefined) return ks.pendingId;
  // The materialized head, when there is one, already holds the id as a string.
  if (ks.head !== undefined) return ks.head.versionId;
  const n = ks.rows.length;
  return n === 0 ? null : index.table.versionId(ks.rows[n - 1]!);
}

/** {@link pendingHeadId} of a key that may not exist. */
function headIdOf(index: KeyIndex, ks: KeyState | undefined): string | null {
  return ks === undefined ? null : pendingHeadId(index, ks);
}

/** Compare-and-set: `null` expects no live value (never written, or deleted); an id expects that head. */
function casMatches(index: KeyIndex, ks: KeyState | undefined, ifVersion: string | null | undefined): boolean {
  if (ifVersion === undefined) return true;
  if (ifVersion === null) return isAbsent(index, ks);
  return ifVersion === headIdOf(index, ks);
}

/** The local write path of one store. */
export class LocalWrites {
  readonly #ctx: StoreContext;
  readonly #index: KeyIndex;
  readonly #commits: CommitQueue;

  constructor(ctx: StoreContext, commits: CommitQueue) {
    this.#ctx = ctx;
    this.#index = ctx.index;
    this.#commits = commits;
  }

  /** See {@link CausalStorage.put}; with `system`, {@link CausalStorage.putSystem} (the reserved namespace). */
  put(namespace: string, key: string, value: unknown, options: WriteOptions | undefined, system: boolean): Promise<Version> {
    try {
      this.#ctx.checkWritable();
      if (!system) validateNamespace(namespace);
      validateKey(key);
      const canon = canonicalize(value, this.#ctx.limits);
      const ks = this.#index.keyState(namespace, key, true, system)!;
      try {
        return this.#enqueueOne(ks, canon, options?.ifVersion);
      } catch (e) {
        this.#index.dropIfEmpty(ks);
        throw e;
      }
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** See {@link CausalStorage.putMany}. */
  putMany(items: readonly PutItem[]): Promise<Version[]> {
    try {
      const ctx = this.#ctx;
      ctx.checkWritable();
      const index = this.#index;
      if (!Array.isArray(items)) throw new InvalidArgumentError('putMany expects an array of { namespace, key, value }');
      const canons: Canonical[] = [];
      for (const item of items) {
        if (item === null || typeof item !== 'object') throw new InvalidArgumentError('putMany items must be objects');
        validateNamespace(item.namespace);
        validateKey(item.key);
        canons.push(canonicalize(item.value, ctx.limits));
      }
      // Check every compare-and-set before queueing anything, so a conflict stores nothing.
      const seen = new Set<string>();
      for (const item of items) {
        const ks = index.keyState(item.namespace, item.key, false);
        const id = `${item.namespace}\u0000${item.key}`;
        // A second write to the same key in one batch cannot know the first one's id.
        if (item.ifVersion !== undefined && (seen.has(id) || !casMatches(index, ks, item.ifVersion))) {
          throw new VersionConflictError(item.namespace, item.key, item.ifVersion, seen.has(id) ? '(earlier in this batch)' : headIdOf(index, ks));
        }
        seen.add(id);
      }
      // Every stamp first: a clock at the end of its format refuses before anything is marked pending.
      const stamps = items.map(() => ctx.clock.tick());
      const writes = items.map((item, i) => {
        const ks = index.keyState(item.namespace, item.key, true)!;
        const stamp = stamps[i]!;
        const w = stampedWrite(ctx, ks, canons[i]!, pendingHeadId(index, ks), stamp, formatHlc(stamp), ctx.nodeId);
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
      const ks = this.#index.keyState(namespace, key, false);
      if (ks === undefined || isAbsent(this.#index, ks)) {
        validateNamespace(namespace);
        validateKey(key);
        throw new KeyNotFoundError(namespace, key);
      }
      return this.#enqueueOne(ks, null, options?.ifVersion);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** See {@link CausalStorage.deleteSystem}. */
  deleteSystem(key: string): Promise<Version> {
    try {
      this.#ctx.checkWritable();
      const ks = this.#index.keyState(SYSTEM_NAMESPACE, key, false, true);
      if (ks === undefined || isAbsent(this.#index, ks)) throw new KeyNotFoundError(SYSTEM_NAMESPACE, key);
      return this.#enqueueOne(ks, null, undefined);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** A write of `canon` (null: a tombstone) to `ks`, compare-and-set checked, stamped now and queued. */
  #enqueueOne(ks: KeyState, canon: Canonical | null, ifVersion: string | null | undefined): Promise<Version> {
    const ctx = this.#ctx;
    const prev = pendingHeadId(this.#index, ks);
    if (!casMatches(this.#index, ks, ifVersion)) throw new VersionConflictError(ks.namespace, ks.key, ifVersion ?? null, prev);
    const stamp = ctx.clock.tick();
    return this.#commits.enqueue(stampedWrite(ctx, ks, canon, prev, stamp, formatHlc(stamp), ctx.nodeId));
  }
}
