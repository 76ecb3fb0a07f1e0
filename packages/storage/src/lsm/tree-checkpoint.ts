/**
 * Segment files that move between trees whole (a cluster member that joins empty copies
 * a donor's): on the donor, a checkpoint pins its live segments so they can be streamed
 * while writes and merges go on; on the receiver, incoming segments are reserved, written,
 * checked and installed as the tree's whole content (see LsmTree.checkpoint /
 * reserveIncoming / installIncoming).
 *
 * A received file is not trusted for being well formed: before it is installed its
 * footer, top index and properties are checked (SegmentReader.open), then every index
 * partition and data block is read through a cursor (each is checked against its CRC on
 * read), its keys must ascend strictly and their number match its properties. So a
 * segment whose transfer checksum matched but whose donor copy was damaged is refused too.
 */
import { ClosedError, CorruptionError } from '../errors.js';
import { LruBlockCache } from './block-cache.js';
import type { RandomAccessFile, StorageDirectory } from './io.js';
import type { SegmentMeta } from './manifest.js';
import { SegmentReader } from './segment-reader.js';
import type { TreeFiles } from './tree-files.js';
import type { TreeStatus } from './tree-status.js';
import { MANIFEST_FILE, segmentFileName, type BlockCache, type SegmentInfo } from './types.js';

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

/**
 * Pins the live segments of `files` (the tree flushed first) and hands out the
 * checkpoint that reads them: until it is released, a merge that replaces one leaves its
 * file on disk (see TreeFiles.retire).
 */
export function pinCheckpoint(files: TreeFiles, status: TreeStatus): TreeCheckpoint {
  const segments = files.manifest.segments;
  const live = new Set(segments.map((s) => s.fileNumber));
  files.pin(live);
  const open = new Map<number, RandomAccessFile>();
  let released = false;
  return {
    segments,
    read: (fileNumber, offset, length) => {
      if (released || status.closed) throw new ClosedError();
      if (!live.has(fileNumber)) throw new RangeError(`segment ${fileNumber} is not part of this checkpoint`);
      let f = open.get(fileNumber);
      if (f === undefined) open.set(fileNumber, (f = files.dir.open(segmentFileName(fileNumber), 'read')));
      return f.read(offset, length);
    },
    release: () => {
      if (released) return;
      released = true;
      for (const f of open.values()) f.close();
      files.unpin(live);
    },
  };
}

/** A received segment to install, and the level it goes to. */
export interface IncomingSegment {
  readonly fileNumber: number;
  readonly level: number;
}

/**
 * The receiving side: file numbers reserved for segments received from elsewhere, their
 * files, and their install (the tree checks it may write, and that it is empty, first).
 */
export class IncomingSegments {
  readonly #files: TreeFiles;
  readonly #maxLevel: number;
  /** File numbers handed out by {@link reserve} and not installed yet. */
  readonly #reserved = new Set<number>();

  constructor(files: TreeFiles, maxLevel: number) {
    this.#files = files;
    this.#maxLevel = maxLevel;
  }

  /** See LsmTree.reserveIncoming. @throws RangeError when the number is taken; IoError */
  reserve(fileNumber: number): void {
    const files = this.#files;
    if (!Number.isSafeInteger(fileNumber) || fileNumber < 0) throw new RangeError(`${String(fileNumber)} is not a file number`);
    const name = segmentFileName(fileNumber);
    if (this.#reserved.has(fileNumber) || files.manifest.segments.some((s) => s.fileNumber === fileNumber) || files.dir.exists(name)) {
      throw new RangeError(`segment file ${name} exists already`);
    }
    if (!files.dir.exists(MANIFEST_FILE)) files.install({ ...files.manifest });
    this.#reserved.add(fileNumber);
    files.reserveThrough(fileNumber);
  }

  /** Opens the file of a reserved segment. @throws RangeError for a number not reserved */
  open(fileNumber: number, mode: 'create' | 'append'): RandomAccessFile {
    if (!this.#reserved.has(fileNumber)) throw new RangeError(`file ${fileNumber} was not reserved for an incoming segment`);
    return this.#files.dir.open(segmentFileName(fileNumber), mode);
  }

  /** Deletes reserved segments that will not be installed (numbers not reserved are passed over). */
  drop(fileNumbers: readonly number[]): void {
    for (const n of fileNumbers) {
      if (!this.#reserved.delete(n)) continue;
      this.#files.dir.remove(segmentFileName(n));
    }
  }

  /**
   * Checks every segment of `incoming` and installs them as the tree's whole content, in
   * one manifest swap that also sets `logNumber` (the tree's active log, still empty) and
   * adds `properties` (see LsmTree.installIncoming).
   * @throws CorruptionError { file, offset } for a damaged segment; RangeError for a
   *   number not reserved, a level out of range or overlapping levels; IoError
   */
  install(incoming: readonly IncomingSegment[], properties: Readonly<Record<string, unknown>>, logNumber: number): void {
    const files = this.#files;
    const added: SegmentMeta[] = [];
    for (const { fileNumber, level } of incoming) {
      if (!this.#reserved.has(fileNumber)) throw new RangeError(`file ${fileNumber} was not reserved for an incoming segment`);
      if (!Number.isSafeInteger(level) || level < 0 || level > this.#maxLevel) throw new RangeError(`level ${level} is not between 0 and ${this.#maxLevel}`);
      const info = verifyIncoming(files.dir, fileNumber, files.cache);
      if (info.count > 0) added.push({ ...info, level });
    }
    checkLevels(added);
    files.dir.syncDirectory();
    files.install({ ...files.manifest, segments: added, logNumber, properties: { ...files.manifest.properties, ...properties } });
    for (const { fileNumber } of incoming) this.#reserved.delete(fileNumber);
    for (const s of incoming) if (!added.some((a) => a.fileNumber === s.fileNumber)) files.dir.remove(segmentFileName(s.fileNumber));
  }
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
