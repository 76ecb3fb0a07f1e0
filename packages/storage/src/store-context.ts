/**
 * The state every part of a {@link CausalStorage} shares: the adapter and the version
 * store over its tree, the keys with queued writes, the digests, the clock. One object
 * per store, handed to each part when the store is built, so the parts (write path,
 * commit queue, admission, reads) stay in their own files without the store's private
 * fields becoming public API. Internal: not exported from the package entry.
 */
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_VALUE_BYTES, HybridClock, InvalidArgumentError, type WallClock } from '@koru/engine';
import type { OpenedStorage, StorageAdapter } from './adapter.js';
import { ClosedError, CorruptionError, IoError, KeyNotFoundError, StorageFullError } from './errors.js';
import type { LsmTree } from './lsm/lsm-tree.js';
import { bytesKey } from './lsm/types.js';
import { seqKey } from './record-keys.js';
import { decodeVersionKey } from './version-keys.js';
import { MemoryAdapter } from './memory-adapter.js';
import { MerkleState } from './merkle-state.js';
import { SYSTEM_NAMESPACE, validateKey, validateNamespace } from './names.js';
import { PendingKeys } from './pending-keys.js';
import type { CausalStorageOptions } from './storage-options.js';
import type { Version } from './types.js';
import { VersionStore } from './version-store.js';
// Only for the {@link} links of the doc comments.
import type { CausalStorage } from './causal-storage.js';

/** Default budget of the cache of materialized versions (heads first). */
const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;

/** Limits of a value, as `canonicalize` takes them. */
export interface ValueLimits {
  readonly maxBytes: number;
  readonly maxDepth: number;
}

/** A store's shared state (see the file comment). */
export class StoreContext {
  readonly adapter: StorageAdapter;
  readonly limits: ValueLimits;
  readonly now: WallClock;
  readonly clock: HybridClock;
  readonly pending = new PendingKeys();
  readonly merkle: MerkleState;
  readonly #cacheBytes: number;
  #store: VersionStore | undefined;
  #tree: LsmTree | undefined;
  /** This node's id (set on open). */
  nodeId = '';
  /** Set once {@link CausalStorage.close} has drained the queue: every later call fails with CLOSED. */
  closed = false;
  /** Set by {@link fail}: every later read and write throws it (see there). */
  #failure: Error | undefined;

  constructor(options: CausalStorageOptions) {
    this.adapter = options.adapter ?? new MemoryAdapter();
    this.limits = { maxBytes: options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES, maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH };
    this.now = options.now ?? Date.now;
    this.clock = new HybridClock(this.now);
    this.#cacheBytes = options.valueCacheBytes ?? DEFAULT_CACHE_BYTES;
    this.merkle = new MerkleState(this);
  }

  /**
   * Takes over what the adapter opened: the version store over its tree, and the clock
   * moved past the last committed change's stamp (each write also moves it past its
   * key's newest, so a key's versions from this node always ascend).
   */
  attach(opened: OpenedStorage): void {
    this.nodeId = opened.nodeId;
    this.#tree = opened.tree;
    this.#store = new VersionStore(opened.tree, { cacheBytes: this.#cacheBytes });
    this.#observeLastChange();
  }

  /**
   * Moves the clock past the last committed change's stamp, read from its version's key
   * (the change record names it): one lookup of the change record, not of the version
   * record as well — at open that second lookup searched every level for a key whose
   * versions lie in all of them, most of an open's reads on a large database. The record
   * itself is checked when first read.
   */
  #observeLastChange(): void {
    const seq = this.#store!.seq;
    if (seq === 0) return;
    const vkey = this.#tree!.get(seqKey(seq));
    if (vkey === undefined) throw new CorruptionError(`the record of change ${seq} is missing`, { seq });
    const { wall, logical } = decodeVersionKey(bytesKey(vkey));
    this.clock.observe({ wall, logical });
  }

  /**
   * Re-reads the store from its tree after the tree's content was replaced whole (a
   * checkpoint installed into the empty store): a new version store (counters, last seq,
   * an empty head cache), the clock moved past the last change, the digests forgotten
   * (rebuilt from the keys when next asked for).
   */
  reload(): void {
    this.#store = new VersionStore(this.tree, { cacheBytes: this.#cacheBytes });
    this.#observeLastChange();
    this.merkle.reset();
  }

  /** The version store (set on open). */
  get store(): VersionStore {
    return this.#store!;
  }

  /** The tree under the version store (set on open). */
  get tree(): LsmTree {
    return this.#tree!;
  }

  /** The last committed change's seq. */
  get seq(): number {
    return this.#store?.seq ?? 0;
  }

  /**
   * Fails the store after a durability barrier (`whenDurable`) rejected: the refused batch
   * was already stored in the tree (so reads in this session could return it) but will
   * never be persisted, so nothing this session holds in memory can be trusted to match
   * what a reopen finds. From now on every read and write throws the returned error (the
   * checks below): STORAGE_FULL for a full quota, else IO_ERROR, saying to reopen. Only
   * `close` still works. The first failure is kept.
   */
  fail(cause: unknown): Error {
    if (this.#failure !== undefined) return this.#failure;
    const why = (cause as { message?: unknown } | null)?.message;
    const message =
      `the database failed: a write could not be persisted (${typeof why === 'string' ? why : String(cause)}); ` +
      'what it holds in memory may differ from what is stored, so it refuses every read and write: close and reopen the database';
    this.#failure = cause instanceof StorageFullError ? new StorageFullError(message, cause) : new IoError(message, cause);
    return this.#failure;
  }

  /** The error that failed the store ({@link fail}), if any. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** @throws ClosedError once the store is closed; the failure once {@link fail}ed */
  checkOpen(): void {
    if (this.closed) throw new ClosedError();
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Writes are refused once closed or failed (as reads are; kept apart as their own check). @throws ClosedError, the failure */
  checkWritable(): void {
    if (this.closed) throw new ClosedError();
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * The key's newest version (tombstone included), or undefined — also for names that
   * cannot be stored (not strings, empty, a lone surrogate): the caller validates the
   * names on a miss, so a malformed one gets its own error, and a hit costs no validation.
   */
  headOf(namespace: string, key: string): Version | undefined {
    if (typeof namespace !== 'string' || typeof key !== 'string' || namespace.length === 0 || key.length === 0) return undefined;
    try {
      return this.store.head(namespace, key);
    } catch (e) {
      if (e instanceof InvalidArgumentError) return undefined;
      throw e;
    }
  }

  /**
   * The newest version of a key that has versions (tombstone included). The reserved
   * namespace is refused. @throws ClosedError, KeyNotFoundError (or a name error for malformed names)
   */
  existingHead(namespace: string, key: string): Version {
    this.checkOpen();
    if (namespace === SYSTEM_NAMESPACE) validateNamespace(namespace);
    const head = this.headOf(namespace, key);
    if (head !== undefined) return head;
    validateNamespace(namespace);
    validateKey(key);
    throw new KeyNotFoundError(namespace, key);
  }
}
