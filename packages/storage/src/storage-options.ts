/**
 * The option and result shapes of {@link CausalStorage}'s public methods (re-exported from
 * the package entry): how a store is opened, how a write, an import, a replication batch
 * and a history read are asked for, and what a replication batch did.
 */
import type { WallClock } from '@koru/engine';
import type { StorageAdapter } from './adapter.js';
import type { Version } from './types.js';
// Only for the {@link} links of the doc comments.
import type { CausalStorage } from './causal-storage.js';
import type { MemoryAdapter } from './memory-adapter.js';

/** Options of {@link CausalStorage.open}. */
export interface CausalStorageOptions {
  /** Where versions are persisted; default: a new {@link MemoryAdapter}. */
  readonly adapter?: StorageAdapter;
  /** Largest canonical JSON value in bytes (default 16 MiB). */
  readonly maxValueBytes?: number;
  /** Deepest nesting of a value (default 512). */
  readonly maxDepth?: number;
  /** Wall clock in ms (injectable for tests). */
  readonly now?: WallClock;
  /** Bytes of materialized versions (current ones first) and shared values kept in memory (default 32 MiB; 0 disables). */
  readonly valueCacheBytes?: number;
  /**
   * Bytes of whole namespaces' current versions kept for repeated full scans (queries
   * without an index), counted at 1 KiB a version (default 128 MiB; 0 disables).
   */
  readonly scanCacheBytes?: number;
}

/** Default of {@link CausalStorageOptions.scanCacheBytes}. */
export const DEFAULT_SCAN_CACHE_BYTES = 128 * 1024 * 1024;

/** Options of a write. */
export interface WriteOptions {
  /** Compare-and-set: the write happens only if the key's head is this version id (`null`: the key must not exist). */
  readonly ifVersion?: string | null;
}

/** A version to import (see {@link CausalStorage.importVersions}): what `history` lists. */
export interface ImportedVersion {
  readonly namespace: string;
  readonly key: string;
  /** Ignored for a tombstone. */
  readonly value?: unknown;
  /** Checked when given. */
  readonly valueId?: string | null;
  /** Checked when given: the ISO-8601 form of the `hlc`'s wall-clock part, as exported. */
  readonly timestamp?: string;
  readonly versionId: string;
  readonly previousVersion: string | null;
  readonly hlc: string;
  readonly node: string;
  readonly deleted: boolean;
  /**
   * Set by an export on a version whose predecessor (`previousVersion`) retention or a
   * purge removed: that version's clock stamp and node (its id is `previousVersion`).
   * An import then accepts the version as its key's first, and records the horizon.
   */
  readonly previousCut?: PreviousCut;
}

/** Where a key's history was cut, as an export carries it: the removed predecessor's stamp and node. */
export interface PreviousCut {
  readonly hlc: string;
  readonly node: string;
  /** True when a purge cut it (else retention). */
  readonly purged: boolean;
}

/** One item of {@link CausalStorage.putMany}. */
export interface PutItem {
  readonly namespace: string;
  readonly key: string;
  readonly value: unknown;
  readonly ifVersion?: string | null;
}

/** Options of {@link CausalStorage.applyReplicated}. */
export interface ReplicationOptions {
  /** Refuse versions stamped more than this far ahead of the local wall clock (default 10 minutes). */
  readonly maxClockAheadMs?: number;
}

/** What {@link CausalStorage.applyReplicated} did. */
export interface ReplicationResult {
  /** The versions stored now (in clock order). */
  readonly applied: readonly Version[];
  /** Versions that were stored already (skipped). */
  readonly duplicates: number;
  /** Versions not stored because their predecessor is unknown here (yet). */
  readonly orphans: readonly ImportedVersion[];
}

/** Options of {@link CausalStorage.importVersions}. */
export interface ImportOptions {
  /** Refuse versions stamped more than this far ahead of the local wall clock (default 10 minutes), as replication does. */
  readonly maxClockAheadMs?: number;
  /**
   * Admits records of the reserved namespace (a whole-database export carries the index
   * and view definitions there): called with each one's key, value and tombstone flag, it
   * throws to refuse it. Without it, such records are refused (INVALID_NAMESPACE): only a
   * layer that can check a definition may restore one.
   */
  readonly checkSystemRecord?: (key: string, value: unknown, deleted: boolean) => void;
}

/** Default of {@link ReplicationOptions.maxClockAheadMs}. */
export const DEFAULT_MAX_CLOCK_AHEAD_MS = 10 * 60 * 1000;

/** Options of a history read. */
export interface HistoryOptions {
  /** At most this many versions: the newest ones. */
  readonly limit?: number;
}
