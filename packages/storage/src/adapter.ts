/**
 * The storage-adapter contract: where a store's versions live. An adapter opens a
 * log-structured tree (see lsm/lsm-tree.ts) over its directory — in memory, on a local
 * disk, later in a browser's private file system — and says which node this store is;
 * CausalStorage keeps its versions in that tree through a VersionStore
 * (version-store.ts). Every adapter must pass `runStorageConformance` (test/conformance.ts).
 */
import type { LsmTree } from './lsm/lsm-tree.js';
import type { RecoveryReport } from './types.js';

/** What an adapter opened. */
export interface OpenedStorage {
  /** This node's persistent id (16 hex digits). */
  readonly nodeId: string;
  /**
   * The tree holding the versions. It must be opened with `writer: VERSION_TREE_WRITER`,
   * and the store must be its only writer.
   */
  readonly tree: LsmTree;
  /** What opening found and did (logs replayed, a torn tail cut, damage dropped, a conversion). */
  readonly recovery: RecoveryReport;
}

/** A place a store's versions are persisted. */
export interface StorageAdapter {
  /** `memory` or `file`. */
  readonly name: string;
  /**
   * True when a write costs no I/O (memory): the store then commits a write at once
   * instead of batching what arrives in the same tick.
   */
  readonly synchronous: boolean;
  /** Opens the tree (called once, first). @throws CorruptionError, IoError, LockedError */
  open(): OpenedStorage | Promise<OpenedStorage>;
  /**
   * The durability barrier of a directory that persists asynchronously (IndexedDB):
   * resolves once every write committed so far is persisted, rejects with the error that
   * stopped it (the adapter is then failed: reopen the database). The commit queue awaits
   * it after storing each batch and before acknowledging it, so a write resolves only once
   * persisted. Absent, or returning undefined, when a committed write is already as
   * durable as the adapter promises (costs nothing then); a `synchronous` adapter never
   * has one.
   */
  whenDurable?(): Promise<void> | undefined;
  /** Bytes used on disk (0 in memory). */
  diskBytes(): number;
  /** Flushes and closes the tree and releases everything (the directory lock). */
  close(): Promise<void>;
}

/** The store's recovery report from what the tree's opening found in its logs. */
export function recoveryOf(tree: LsmTree): RecoveryReport {
  const r = tree.recovery;
  const truncated = r.logs.map((l) => l.truncated).find((t) => t !== undefined);
  const repaired = r.logs.flatMap((l) => l.repaired ?? []);
  return {
    replayed: r.replayedBatches,
    ...(truncated !== undefined ? { truncated } : {}),
    ...(repaired.length > 0 ? { repaired } : {}),
  };
}
