/**
 * What a tree holds, gathered from its parts for stats, tests and benchmarks: the
 * segments by level (tree-files.ts), the memtables (tree-writes.ts), and how many
 * flushes and merges were installed since opening.
 */
import type { TreeFiles } from './tree-files.js';
import type { TreeWrites } from './tree-writes.js';

/** What the tree holds, for stats and tests. */
export interface LsmStats {
  readonly levels: ReadonlyArray<{ readonly files: number; readonly bytes: number; readonly entries: number }>;
  readonly memtableBytes: number;
  readonly frozenMemtables: number;
  readonly cacheBytes: number;
  /** Memory held by open segment readers outside the cache (indexes, filters). */
  readonly readerBytes: number;
  readonly openReaders: number;
  readonly flushes: number;
  readonly merges: number;
}

/** The stats of a tree made of `files` and `writes` that installed `flushes` flushes and `merges` merges. */
export function treeStats(files: TreeFiles, writes: TreeWrites, flushes: number, merges: number): LsmStats {
  return {
    levels: files.levels.map((level) => ({
      files: level.length,
      bytes: level.reduce((n, f) => n + f.bytes, 0),
      entries: level.reduce((n, f) => n + f.count, 0),
    })),
    memtableBytes: writes.memtableBytes(),
    frozenMemtables: writes.frozen.length,
    cacheBytes: files.cache.bytes,
    readerBytes: files.readerBytes(),
    openReaders: files.openReaders,
    flushes,
    merges,
  };
}
