/**
 * @koru/storage/node — the durable, Node-only part of the storage layer: the file
 * adapter (a database directory), the directory lock, and the log-structured engine's
 * directory and worker-thread merge runner on node:fs.
 */
export { FileAdapter, type FileAdapterOptions } from './node/file-adapter.js';
// Opening a v1 database directory (log + snapshot) converts it to the v2 format once.
export { migrateV1, MIGRATION_DIR, MIGRATED_FROM, type MigrateV1Options, type MigrationReport } from './node/migrate-v1.js';
export type { V1RecoveryReport, V1RepairedDamage } from './node/v1/v1-types.js';
export { DirectoryLock, readLockHolder, type LockHolder } from './node/lock.js';
export { nodeFileOps, type FileOps } from './node/fs-ops.js';
export { installNodeChecksum, NodeDirectory } from './node/node-directory.js';

// The merge runner on a worker thread (flushes and merges off the event loop).
export { IDLE_WORKER_MS, WorkerMergeRunner } from './node/worker-merge-runner.js';

// The log-structured engine itself (sorted binary-string keys → bytes), for the engine bench.
export { LsmTree, type LsmTreeOptions, type LsmStats, type LsmCursor, type LsmRecovery } from './lsm/lsm-tree.js';
export { KIND_PUT, KIND_DELETE, type Entry as EngineEntry, type EntryKind } from './lsm/types.js';
export { InlineMergeRunner, type MergeRunner } from './lsm/merge-runner.js';
