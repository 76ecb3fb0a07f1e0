// Small helpers shared by the engine's and the version store's tests.
import { KoruError } from '@koru/engine';
import { LruBlockCache } from '../src/lsm/block-cache.js';
import type { StorageDirectory } from '../src/lsm/io.js';
import { SegmentReader } from '../src/lsm/segment-reader.js';
import { segmentFileName, type Entry } from '../src/lsm/types.js';
import { LsmTree, type LsmTreeOptions } from '../src/lsm/lsm-tree.js';
import type { MemoryDirectory } from '../src/lsm/memory-directory.js';
import { InlineMergeRunner } from '../src/lsm/merge-runner.js';
import { VERSION_TREE_WRITER } from '../src/version-store.js';

/** Every entry of segment `n` of `dir`, in order (values copied). */
export function readSegment(dir: StorageDirectory, n: number): Entry[] {
  const r = SegmentReader.open(dir.open(segmentFileName(n), 'read'), n, new LruBlockCache(1 << 20));
  const out: Entry[] = [];
  const c = r.cursor();
  for (c.seekToFirst(); c.valid(); c.next()) out.push({ key: c.key(), kind: c.kind(), value: c.value().slice() });
  r.close();
  return out;
}

/** The code a call throws with (undefined when it returns; anything but a KoruError is rethrown). */
export function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof KoruError) return e.code;
    throw e;
  }
  return undefined;
}

/** A small version-store tree in memory: tiny memtables, files and blocks, so flushes and merges happen after a few writes. */
export function openTinyVersionTree(dir: MemoryDirectory, extra: Partial<LsmTreeOptions> = {}): LsmTree {
  return LsmTree.open({
    dir,
    flushRunner: new InlineMergeRunner(dir),
    sync: 'always',
    memtableBytes: 4 * 1024,
    targetFileBytes: 8 * 1024,
    picker: { l0Trigger: 3, levelBaseBytes: 16 * 1024, levelMultiplier: 4 },
    writer: { ...VERSION_TREE_WRITER, blockBytes: 512 },
    cache: 64 * 1024,
    ...extra,
  });
}
