/**
 * The state every part of a {@link CausalStorage} shares: the adapter, the in-memory
 * index and what reads and digests it, the clock, and the counters the write path moves.
 * One object per store, handed to each part when the store is built, so the parts (write
 * path, commit queue, admission, reads) stay in their own files without the store's
 * private fields becoming public API. Internal: not exported from the package entry.
 */
import { DEFAULT_MAX_DEPTH, DEFAULT_MAX_VALUE_BYTES, HybridClock, type WallClock } from '@koru/engine';
import type { StorageAdapter } from './adapter.js';
import { ClosedError } from './errors.js';
import { KeyIndex, type KeyState } from './key-index.js';
import { MemoryAdapter } from './memory-adapter.js';
import { MerkleState } from './merkle-state.js';
import type { CausalStorageOptions } from './storage-options.js';
import { VersionReader } from './version-reader.js';
// Only for the {@link} links of the doc comments.
import type { CausalStorage } from './causal-storage.js';

/** Default budget of the cache of materialized historical versions. */
const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;

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
  readonly index = new KeyIndex();
  readonly merkle = new MerkleState(this.index);
  readonly reader: VersionReader;
  /** This node's id (set on load). */
  nodeId = '';
  /** The last committed change's seq (each committed change is one row: seq = row + 1). */
  seq = 0;
  /** Set once {@link CausalStorage.close} has drained the queue: every later call fails with CLOSED. */
  closed = false;
  #isoWall = -1;
  #iso = '';

  constructor(options: CausalStorageOptions) {
    this.adapter = options.adapter ?? new MemoryAdapter();
    this.limits = { maxBytes: options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES, maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH };
    this.now = options.now ?? Date.now;
    this.clock = new HybridClock(this.now);
    const budget = options.valueCacheBytes ?? DEFAULT_CACHE_BYTES;
    this.reader = new VersionReader(this.index, this.adapter, budget);
  }

  /** @throws ClosedError once the store is closed */
  checkOpen(): void {
    if (this.closed) throw new ClosedError();
  }

  /** Writes are refused once closed (as reads are; kept apart as their own check). @throws ClosedError */
  checkWritable(): void {
    if (this.closed) throw new ClosedError();
  }

  /** The state of a key that has versions. @throws ClosedError, KeyNotFoundError */
  existingKey(namespace: string, key: string): KeyState {
    this.checkOpen();
    return this.index.existing(namespace, key);
  }

  /** The ISO-8601 form of a wall-clock ms; the last one is kept, as runs of writes share a millisecond. */
  isoOf(wall: number): string {
    if (wall !== this.#isoWall) {
      this.#isoWall = wall;
      this.#iso = new Date(wall).toISOString();
    }
    return this.#iso;
  }
}
