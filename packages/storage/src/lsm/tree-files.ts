/**
 * A tree's segment files: the manifest that names them (replaced atomically on every
 * install), the same segments grouped by level for reads, the file numbers handed out,
 * the readers opened on first use, and the pins that keep a replaced file on disk while
 * a checkpoint still streams it. Flushes and merges add and retire files only through
 * here, so what the manifest names, what is open and what is deleted stay in step.
 */
import { levelsOf } from './compaction-picker.js';
import type { StorageDirectory } from './io.js';
import { writeManifest, type ManifestState, type SegmentMeta } from './manifest.js';
import { SegmentReader } from './segment-reader.js';
import type { TreeStatus } from './tree-status.js';
import { segmentFileName, type BlockCache } from './types.js';
import { CorruptionError } from '../errors.js';

/** The live segment files of a tree (internal to src/lsm). */
export class TreeFiles {
  readonly dir: StorageDirectory;
  readonly cache: BlockCache;
  readonly #status: TreeStatus;
  readonly #maxLevel: number;
  readonly #readers = new Map<number, SegmentReader>();
  /** Segments pinned by open checkpoints, with how many pin each (see {@link pin}). */
  readonly #pins = new Map<number, number>();
  /** Pinned segments a merge replaced: deleted when their last pin goes. */
  readonly #obsoletePinned = new Set<number>();
  #manifest: ManifestState;
  #levels: SegmentMeta[][];
  #nextFile: number;

  constructor(dir: StorageDirectory, cache: BlockCache, status: TreeStatus, manifest: ManifestState, nextFile: number, maxLevel: number) {
    this.dir = dir;
    this.cache = cache;
    this.#status = status;
    this.#maxLevel = maxLevel;
    this.#manifest = manifest;
    this.#levels = levelsOf(manifest.segments, maxLevel);
    this.#nextFile = nextFile;
  }

  /** The manifest as last installed (or read at open). */
  get manifest(): ManifestState {
    return this.#manifest;
  }

  /** The live segments by level: level 0 newest first, deeper levels by first key. */
  get levels(): readonly (readonly SegmentMeta[])[] {
    return this.#levels;
  }

  /** Reserves `count` consecutive file numbers and returns the first. */
  allocate(count = 1): number {
    const first = this.#nextFile;
    this.#nextFile += count;
    return first;
  }

  /** Numbers the files made from now on after `fileNumber` (one received from elsewhere keeps its own). */
  reserveThrough(fileNumber: number): void {
    this.#nextFile = Math.max(this.#nextFile, fileNumber + 1);
  }

  /** Writes `next` as the manifest (atomically, with the next file number now) and reads from it. */
  install(next: Omit<ManifestState, 'nextFileNumber'> & { nextFileNumber?: number }): void {
    const state: ManifestState = { ...next, formatVersion: 1, nextFileNumber: this.#nextFile };
    writeManifest(this.dir, state);
    this.#manifest = state;
    this.#levels = levelsOf(state.segments, this.#maxLevel);
  }

  /**
   * The reader of a live segment, opened on first use (its index and filter read then).
   * @throws CorruptionError when the file does not hold what the manifest says; IoError
   */
  reader(s: SegmentMeta): SegmentReader {
    let r = this.#readers.get(s.fileNumber);
    if (r === undefined) {
      const file = this.dir.open(segmentFileName(s.fileNumber), 'read');
      try {
        r = SegmentReader.open(file, s.fileNumber, this.cache);
      } catch (e) {
        file.close();
        throw e;
      }
      if (r.info.count !== s.count || r.info.firstKey !== s.firstKey || r.info.lastKey !== s.lastKey) {
        r.close();
        throw new CorruptionError(`${this.dir.location}/${segmentFileName(s.fileNumber)} does not hold what the manifest says (${r.info.count} entries, ${s.count} expected)`, {
          file: segmentFileName(s.fileNumber),
          offset: 0,
        });
      }
      this.#readers.set(s.fileNumber, r);
    }
    return r;
  }

  /**
   * Lets go of segments an install just replaced: their readers and cached blocks go,
   * and their files are deleted — unless a checkpoint still streams one, which is then
   * deleted when its last pin goes.
   */
  retire(fileNumbers: Iterable<number>): void {
    for (const n of fileNumbers) {
      this.#readers.get(n)?.close();
      this.#readers.delete(n);
      this.cache.evictFile(n);
      if (this.#pins.has(n)) this.#obsoletePinned.add(n);
      else this.discard(segmentFileName(n));
    }
  }

  /** Deletes a file no longer named by the manifest, off this thread where the directory can. */
  discard(name: string): void {
    if (this.dir.removeLater !== undefined) this.dir.removeLater(name);
    else this.dir.remove(name);
  }

  /** Pins segments (once more each): until {@link unpin}, {@link retire} leaves their files. */
  pin(fileNumbers: Iterable<number>): void {
    for (const n of fileNumbers) this.#pins.set(n, (this.#pins.get(n) ?? 0) + 1);
  }

  /**
   * Takes one pin off each segment; one whose last pin goes and that a merge replaced
   * meanwhile is deleted now (not once the tree is closed: the next open deletes it, as
   * a segment no manifest names).
   */
  unpin(fileNumbers: Iterable<number>): void {
    for (const n of fileNumbers) {
      const left = this.#pins.get(n)! - 1;
      if (left > 0) {
        this.#pins.set(n, left);
        continue;
      }
      this.#pins.delete(n);
      if (this.#obsoletePinned.delete(n) && !this.#status.closed) this.discard(segmentFileName(n));
    }
  }

  /** How many segment readers are open. */
  get openReaders(): number {
    return this.#readers.size;
  }

  /** Memory held by open segment readers outside the cache (indexes, filters). */
  readerBytes(): number {
    let n = 0;
    for (const r of this.#readers.values()) n += r.residentBytes;
    return n;
  }

  /** Closes every open reader (the tree is closing). */
  close(): void {
    for (const r of this.#readers.values()) r.close();
    this.#readers.clear();
  }
}
