/**
 * @koru/storage — KoruDelta's causal storage: immutable, content-addressed versions
 * per key, history, time travel and tombstones, over a pluggable adapter. This entry
 * is browser-safe (memory adapter); the durable log adapter is in `@koru/storage/node`.
 */
export {
  CausalStorage,
  type CausalStorageOptions,
  type WriteOptions,
  type PutItem,
  type ImportedVersion,
  type HistoryOptions,
  type ReplicationOptions,
  type ImportOptions,
  type ReplicationResult,
  DEFAULT_MAX_CLOCK_AHEAD_MS,
} from './causal-storage.js';
export { type MerkleNode, MERKLE_DEPTH, MERKLE_FANOUT, EMPTY_DIGEST, bucketOf } from './merkle-state.js';
export type {
  StorageAdapter,
  ChangeRecord,
  CommitEntry,
  LoadedState,
  LoadedSnapshot,
  ReplayEntry,
  SnapshotSource,
  Relocation,
} from './adapter.js';
export { MemoryAdapter } from './memory-adapter.js';
export * from './errors.js';
export * from './types.js';
export { validateNamespace, validateKey, MAX_KEY_BYTES, MAX_NAMESPACE_LENGTH, SYSTEM_NAMESPACE } from './names.js';
export { VersionTable, FLAG_DELETED, COLUMN_NAMES, type VersionColumns } from './version-table.js';
export { MemoryDirectory } from './lsm/memory-directory.js';
export { LruBlockCache } from './lsm/block-cache.js';
export type { RandomAccessFile, StorageDirectory, OpenMode } from './lsm/io.js';
export type { BlockCache } from './lsm/types.js';
