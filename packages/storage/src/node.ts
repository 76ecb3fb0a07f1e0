/**
 * @koru/storage/node — the durable, Node-only part of the storage layer: the
 * append-only log + snapshot adapter, the directory lock, and the log-structured
 * engine's directory on node:fs.
 */
export { FileAdapter, type FileAdapterOptions } from './node/file-adapter.js';
export { DirectoryLock, readLockHolder, type LockHolder } from './node/lock.js';
export { nodeFileOps, type FileOps } from './node/fs-ops.js';
export { NodeDirectory } from './node/node-directory.js';

// The merge runner on a worker thread (flushes and merges off the event loop).
export { WorkerMergeRunner } from './node/worker-merge-runner.js';
