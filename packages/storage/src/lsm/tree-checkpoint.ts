/**
 * Checkpoints of a tree: its live segment files, pinned so they can be copied whole to
 * another tree (a cluster member that joins empty), and the checks a received segment
 * passes before a tree installs it (see LsmTree.checkpoint / reserveIncoming /
 * installIncoming).
 *
 * A received file is not trusted for being well formed: before it is installed its
 * footer, top index and properties are checked (SegmentReader.open), then every index
 * partition and data block is read through a cursor (each is checked against its CRC on
 * read), its keys must ascend strictly and their number match its properties. So a
 * segment whose transfer checksum matched but whose donor copy was damaged is refused too.
 */
import { CorruptionError } from '../errors.js';
import { LruBlockCache } from './block-cache.js';
import type { StorageDirectory } from './io.js';
import type { SegmentMeta } from './manifest.js';
import { SegmentReader } from './segment-reader.js';
import { segmentFileName, type BlockCache, type SegmentInfo } from './types.js';

/** A pinned set of live segments (see LsmTree.checkpoint). */
export interface TreeCheckpoint {
  /** The segments, as the manifest named them when the checkpoint was taken. */
  readonly segments: readonly SegmentMeta[];
  /**
   * Reads `length` bytes of segment `fileNumber` at `offset` (fewer at its end).
   * @throws RangeError for a segment not in the checkpoint; ClosedError once released
   */
  read(fileNumber: number, offset: number, length: number): Uint8Array;
  /** Unpins the segments (a merge may delete them from now on). Idempotent. */
  release(): void;
}

/** Blocks read to verify a received segment go through their own small cache, not the tree's. */
const VERIFY_CACHE_BYTES = 256 * 1024;

/**
 * Checks a received segment file whole (see the module comment) and returns what it
 * holds. `cache` is unused by the check itself; it is the tree's, whose blocks of this
 * file number must not exist yet (the number is new).
 * @throws CorruptionError { file, offset }
 */
export function verifyIncoming(dir: StorageDirectory, fileNumber: number, cache: BlockCache): SegmentInfo {
  cache.evictFile(fileNumber);
  const name = segmentFileName(fileNumber);
  const reader = SegmentReader.open(dir.open(name, 'read'), fileNumber, new LruBlockCache(VERIFY_CACHE_BYTES));
  try {
    const { info } = reader;
    const c = reader.cursor();
    let n = 0;
    let previous: string | undefined;
    for (c.seekToFirst(); c.valid(); c.next()) {
      const key = c.key();
      if (previous !== undefined && key <= previous) throw new CorruptionError(`${dir.location}/${name}: entry ${n} is not after the one before it`, { file: name, offset: 0 });
      previous = key;
      n++;
    }
    if (n !== info.count) throw new CorruptionError(`${dir.location}/${name} holds ${n} entries, its properties say ${info.count}`, { file: name, offset: 0 });
    if (n > 0 && previous !== info.lastKey) throw new CorruptionError(`${dir.location}/${name}: its last entry is not the last key its properties name`, { file: name, offset: 0 });
    return info;
  } finally {
    reader.close();
  }
}

/**
 * Refuses segments whose levels a tree could not read right: below level 0 (whose
 * files may overlap: the newest wins) the files of a level must not overlap.
 * @throws RangeError naming the two files
 */
export function checkLevels(segments: readonly SegmentMeta[]): void {
  const byLevel = new Map<number, SegmentMeta[]>();
  for (const s of segments) if (s.level > 0) (byLevel.get(s.level) ?? byLevel.set(s.level, []).get(s.level)!).push(s);
  for (const [level, files] of byLevel) {
    files.sort((a, b) => (a.firstKey < b.firstKey ? -1 : a.firstKey > b.firstKey ? 1 : 0));
    for (let i = 1; i < files.length; i++) {
      if (files[i]!.firstKey <= files[i - 1]!.lastKey) {
        throw new RangeError(`level ${level}: segments ${files[i - 1]!.fileNumber} and ${files[i]!.fileNumber} overlap`);
      }
    }
  }
}
