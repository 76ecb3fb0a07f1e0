/**
 * Opening a tree: recover its directory (tree-recovery.ts), apply the options' defaults,
 * and build its parts wired along the data's path — a frozen memtable makes a flush due
 * (tree-writes.ts → tree-flush.ts), an installed flush may make a merge due
 * (tree-flush.ts → tree-merges.ts). LsmTree (lsm-tree.ts) holds the parts and is their
 * public face; its options, with their defaults, are here beside the code applying them.
 */
import { LruBlockCache } from './block-cache.js';
import { DEFAULT_PICKER_OPTIONS, type PickerOptions } from './compaction-picker.js';
import type { StorageDirectory } from './io.js';
import type { LsmTree } from './lsm-tree.js';
import type { MergeRunner } from './merge-runner.js';
import type { SegmentWriterOptions } from './segment-writer.js';
import { IncomingSegments } from './tree-checkpoint.js';
import { TreeFiles } from './tree-files.js';
import { TreeFlush } from './tree-flush.js';
import { TreeMerges } from './tree-merges.js';
import { recoverTree, type LsmRecovery } from './tree-recovery.js';
import { TreeStatus } from './tree-status.js';
import { MAX_KEPT_LOGS, TreeWrites } from './tree-writes.js';
import type { BlockCache } from './types.js';

const MIB = 1024 * 1024;

/** Options of {@link LsmTree.open}. */
export interface LsmTreeOptions {
  readonly dir: StorageDirectory;
  /** Runs flushes (a worker thread on Node). */
  readonly flushRunner: MergeRunner;
  /** Runs merges; default: the flush runner (then a long merge delays flushes). */
  readonly mergeRunner?: MergeRunner;
  /** `always`: every batch synced before `write` returns; `periodic` (default): within `syncIntervalMs`. */
  readonly sync?: 'always' | 'periodic';
  readonly syncIntervalMs?: number;
  /** Memtable size that triggers a flush (default 8 MiB). */
  readonly memtableBytes?: number;
  /** The block cache, or its budget in bytes (default 16 MiB). */
  readonly cache?: BlockCache | number;
  /** Output files of merges are cut at this size (default 32 MiB). */
  readonly targetFileBytes?: number;
  readonly picker?: Partial<Omit<PickerOptions, 'filterKeyParts'>>;
  /** How segments are written (`filterKeyParts` decides what the Bloom filters hold). */
  readonly writer?: SegmentWriterOptions;
  /** Run merges on their own (default true); false leaves them to {@link LsmTree.compact}. */
  readonly autoMerge?: boolean;
  /** Open a damaged log by dropping what is damaged (reported in {@link LsmTree.recovery}). */
  readonly repair?: boolean;
  /** Told of a failed background flush or merge (it is retried later). */
  readonly onBackgroundError?: (error: unknown) => void;
  /** After opening, merges left to do start after this pause (default 1 s; a flush starts them sooner). */
  readonly resumeMergesAfterMs?: number;
  /**
   * Unflushed writes kept in their logs at close (and not flushed right after opening)
   * while they stay under this many bytes and {@link MAX_KEPT_LOGS} logs (default 256 KiB):
   * replaying them costs an open less than a flush costs a close, and short-lived
   * processes (one CLI command each) then do not each leave a tiny segment behind.
   */
  readonly keepLogBytes?: number;
}

/** The parts of an open tree (internal to src/lsm). */
export interface TreeParts {
  readonly status: TreeStatus;
  readonly files: TreeFiles;
  readonly writes: TreeWrites;
  readonly flush: TreeFlush;
  readonly merges: TreeMerges;
  readonly incoming: IncomingSegments;
  readonly flushRunner: MergeRunner;
  readonly mergeRunner: MergeRunner;
  /** Level-0 files past which writes wait for a merge (see LsmTree.writable). */
  readonly l0Stop: number;
  /** The tree's Bloom filter rule: how many leading key parts a filter key holds (0: whole keys). */
  readonly filterParts: number;
  readonly recovery: LsmRecovery;
}

/**
 * Recovers the tree in `options.dir` and builds its parts; starts no background work.
 * @throws CorruptionError naming the damaged file; IoError
 */
export function openTreeParts(options: LsmTreeOptions): TreeParts {
  const recovered = recoverTree(options.dir, options.repair === true);
  const flushRunner = options.flushRunner;
  const mergeRunner = options.mergeRunner ?? options.flushRunner;
  const writer = options.writer ?? {};
  const filterParts = writer.filterKeyParts ?? 0;
  const picker = { ...DEFAULT_PICKER_OPTIONS, ...options.picker, filterKeyParts: filterParts };
  const status = new TreeStatus(options.onBackgroundError ?? (() => {}));
  const cache = typeof options.cache === 'object' ? options.cache : new LruBlockCache(options.cache ?? 16 * MIB);
  const files = new TreeFiles(options.dir, cache, status, recovered.manifest, recovered.next, picker.maxLevel);
  const writeOptions = {
    sync: options.sync ?? 'periodic',
    syncIntervalMs: options.syncIntervalMs ?? 100,
    memtableBytes: options.memtableBytes ?? 8 * MIB,
    keepLogBytes: options.keepLogBytes ?? 256 * 1024,
  } as const;
  // Built in this order, each part told of the next only through these calls (made
  // later, once all exist).
  const writes = new TreeWrites(files, status, writeOptions, recovered.frozen, () => flush.schedule());
  const flush: TreeFlush = new TreeFlush({ files, writes, status, runner: flushRunner, writer, onFlushed: () => merges.schedule() });
  const merges: TreeMerges = new TreeMerges({
    files,
    status,
    runner: mergeRunner,
    picker,
    writer,
    targetFileBytes: options.targetFileBytes ?? 32 * MIB,
    autoMerge: options.autoMerge ?? true,
  });
  const incoming = new IncomingSegments(files, picker.maxLevel);
  return { status, files, writes, flush, merges, incoming, flushRunner, mergeRunner, l0Stop: picker.l0Stop, filterParts, recovery: recovered.report };
}
