/**
 * @koru/storage — KoruDelta's causal storage: immutable, content-addressed versions
 * per key, history, time travel and tombstones, kept in a log-structured engine over a
 * pluggable adapter. This entry is browser-safe (memory adapter); the durable adapter
 * on node:fs is in `@koru/storage/node`.
 */
export {
  CausalStorage,
  type CausalStorageOptions,
  type WriteOptions,
  type PutItem,
  type ImportedVersion,
  type PreviousCut,
  type HistoryOptions,
  type ReplicationOptions,
  type ImportOptions,
  type ReplicationResult,
  DEFAULT_MAX_CLOCK_AHEAD_MS,
} from './causal-storage.js';
export { MAX_LIST_KEYS_LIMIT, type ListKeysOptions, pageOptions as checkListKeysOptions } from './key-pages.js';
export {
  CheckpointReceiver,
  StoreNotEmptyError,
  MAX_CHECKPOINT_CHUNK,
  MAX_CHECKPOINT_FILES,
  type CheckpointFile,
  type StoreCheckpoint,
} from './checkpoint.js';
export type { TreeCheckpoint } from './lsm/tree-checkpoint.js';
export { type MerkleNode, MERKLE_DEPTH, MERKLE_FANOUT, EMPTY_DIGEST, bucketOf } from './merkle-state.js';
export { type StorageAdapter, type OpenedStorage, recoveryOf } from './adapter.js';
export { MemoryAdapter, type MemoryAdapterOptions } from './memory-adapter.js';
export {
  DirectoryAdapter,
  checkDirectoryAdapterOptions,
  type DirectoryAdapterOptions,
  type TreeOptions,
  type PersistingDirectory,
  type ReservingDirectory,
} from './directory-adapter.js';
export * from './errors.js';
export * from './types.js';
export { validateNamespace, validateKey, MAX_KEY_BYTES, MAX_NAMESPACE_LENGTH, SYSTEM_NAMESPACE } from './names.js';
export { MemoryDirectory } from './lsm/memory-directory.js';
export { LruBlockCache } from './lsm/block-cache.js';
export type { RandomAccessFile, StorageDirectory, OpenMode } from './lsm/io.js';
export type { BlockCache } from './lsm/types.js';
export { LsmTree, type LsmTreeOptions, type LsmStats, type LsmCursor, type LsmRecovery } from './lsm/lsm-tree.js';
export { InlineMergeRunner, type MergeRunner } from './lsm/merge-runner.js';
export { VersionStore, VERSION_TREE_WRITER, type NewVersion, type VersionStoreOptions } from './version-store.js';
export { validatePolicy, KEEP_ALL, type RetentionPolicy } from './retention.js';
export { MAX_LOCAL_STATE_NAME, MAX_LOCAL_STATE_BYTES } from './local-state.js';
export { committedAfter, utf8Length, DEFAULT_MAX_SCAN, type CommittedAfter, type CommittedAfterOptions, type SeqVersion } from './sync-reads.js';
export type { PurgeResult } from './purge.js';
export type { MergeFilterHook } from './lsm/lsm-tree.js';
