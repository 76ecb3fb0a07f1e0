/**
 * Reads a segment file (format in segment-format.ts). Opening reads and checks only the
 * footer, the top index and the properties, and keeps only the decoded top index (a few
 * KB); index partitions, filter partitions and data blocks are read on demand, checked
 * against their CRC before anything in them is decoded, and shared through the
 * {@link BlockCache} (keyed by their offsets, like data blocks). Damaged bytes raise
 * CORRUPTION, never a wrong answer.
 *
 * Values handed out (by `get` and cursors) are views into cached blocks: callers must
 * not mutate them, and copy them if they keep them long (a view pins its whole block).
 */
import { InvalidArgumentError } from '@koru/engine';
import { filterBlockMayContain, isFilterBlock, murmur3 } from './bloom.js';
import { crc32 } from './checksum.js';
import type { RandomAccessFile } from './io.js';
import { BlockScan } from './segment-block.js';
import { BlockDecoder, BLOCK_CRC_BYTES, BLOOM_SEED_1, BLOOM_SEED_2, binaryString, corruption, filterKeyOf, FOOTER_BYTES, FORMAT_VERSION, SEGMENT_MAGIC } from './segment-format.js';
import { getU32 } from './bytes.js';
import { BlockHandle, checkIndexPartition, readHandle, TopIndex } from './segment-index.js';
import type { BlockCache, EntryCursor, EntryKind, Found, SegmentInfo } from './types.js';

/** Approximate bytes of a reader beyond its top index and properties (the objects, the scanners' key buffers). */
const READER_OVERHEAD_BYTES = 1024;

const NO_BYTES = new Uint8Array(0);

/**
 * How much a sequential scan reads of the index partitions at once: the first time at
 * least {@link INDEX_READ_AHEAD_MIN}, then twice as much each time, up to at least
 * {@link INDEX_READ_AHEAD_MAX}. The partitions lie together after the data, so a scan
 * that read them one at a time would seek away from the data once every partition
 * (and, in a merge, throw away its 512 KiB read-ahead window each time: a read of 512
 * KiB or more goes past that window instead). A short scan reads little; a long one
 * reads the index in a few large reads.
 */
const INDEX_READ_AHEAD_MIN = 64 * 1024;
const INDEX_READ_AHEAD_MAX = 512 * 1024;

/** An open segment file. Not shared between threads. */
export class SegmentReader {
  /** What the segment holds (from its properties block; `bytes` is the file's size). */
  readonly info: SegmentInfo;
  /** Memory held outside the cache (top index + properties + the reader itself), for the memory budget. */
  readonly residentBytes: number;
  /** The filter-key rule the segment was written with (see segment-format.ts). */
  readonly filterKeyParts: number;
  readonly #file: RandomAccessFile;
  readonly #cache: BlockCache;
  readonly #top: TopIndex;
  /** Reused by `get`: lookups run one at a time, so one scanner of each kind is enough. */
  readonly #scan: BlockScan;
  readonly #indexScan: BlockScan;
  readonly #handle = new BlockHandle();
  /** Used only to check index partitions read from the file (cursors call back into the reader for that). */
  readonly #checkScan: BlockScan;
  readonly #checkHandle = new BlockHandle();
  /** What its cursors call back into (made once, at the first cursor). */
  #source: CursorSource | undefined;

  private constructor(file: RandomAccessFile, cache: BlockCache, info: SegmentInfo, filterKeyParts: number, top: TopIndex, propsBytes: number) {
    this.#file = file;
    this.#cache = cache;
    this.info = info;
    this.filterKeyParts = filterKeyParts;
    this.#top = top;
    this.#scan = new BlockScan(file);
    this.#indexScan = new BlockScan(file);
    this.#checkScan = new BlockScan(file);
    this.residentBytes = top.bytes + 2 * propsBytes + READER_OVERHEAD_BYTES;
  }

  /**
   * Reads only the footer, top index and properties (checked); the rest is read on demand through `cache`.
   * The reader owns `file` from here: {@link close} closes it, and so does a failed open.
   * @throws CorruptionError { file, offset }
   */
  static open(file: RandomAccessFile, fileNumber: number, cache: BlockCache): SegmentReader {
    try {
      return SegmentReader.#open(file, fileNumber, cache);
    } catch (error) {
      file.close();
      throw error;
    }
  }

  static #open(file: RandomAccessFile, fileNumber: number, cache: BlockCache): SegmentReader {
    const size = file.size();
    if (size < FOOTER_BYTES) throw corruption(file, 0, `${size} bytes is too short for a segment`);
    const footerAt = size - FOOTER_BYTES;
    const footer = readFully(file, footerAt, FOOTER_BYTES);
    if (binaryString(footer, 0, 8) !== SEGMENT_MAGIC) throw corruption(file, footerAt, 'no segment footer (bad magic)');
    if (crc32(footer, 0, 0, FOOTER_BYTES - 4) !== getU32(footer, FOOTER_BYTES - 4)) throw corruption(file, footerAt, 'footer checksum mismatch');
    const fd = new BlockDecoder(footer, FOOTER_BYTES - 4, (what) => corruption(file, footerAt, what), 8);
    const topOffset = fd.u64();
    const topSize = fd.u32();
    const propsOffset = fd.u64();
    const propsSize = fd.u32();
    // The top index, properties and footer must tile the end of the file (and the top
    // index the rest), so every byte is under some checksum.
    if (topOffset + topSize + BLOCK_CRC_BYTES !== propsOffset || propsOffset + propsSize + BLOCK_CRC_BYTES !== footerAt) {
      throw corruption(file, footerAt, 'the footer does not describe the file');
    }
    const meta = readFully(file, topOffset, footerAt - topOffset);
    const checked = (offset: number, length: number): Uint8Array => {
      const at = offset - topOffset;
      if (crc32(meta, 0, at, at + length) !== getU32(meta, at + length)) throw corruption(file, offset, 'checksum mismatch');
      return meta.subarray(at, at + length);
    };
    const topBlock = checked(topOffset, topSize);
    const propsBlock = checked(propsOffset, propsSize);
    const top = TopIndex.parse(topBlock, topOffset, (what) => corruption(file, topOffset, `top index: ${what}`));

    const info = parseProperties(propsBlock, (what) => corruption(file, propsOffset, `properties: ${what}`), fileNumber, size);
    const parts = info.filterKeyParts;
    const n = top.count;
    if ((info.count === 0) !== (n === 0) || (n > 0 && (top.compare(0, info.firstKey) < 0 || top.compare(n - 1, info.lastKey) < 0))) {
      throw corruption(file, propsOffset, 'properties disagree with the index');
    }
    const { filterKeyParts: _, ...segment } = info;
    return new SegmentReader(file, cache, segment, parts, top, propsSize);
  }

  /**
   * The newest entry of exactly `key` in this segment, or undefined. Its value is a view
   * (see module doc). `filterChecked`: the caller already asked {@link mayContain} (or
   * {@link mayContainHashed}) for the key's filter key and got true, so the partition's
   * filter is not asked again (two hashes and a filter probe saved).
   */
  get(key: string, filterChecked = false): Found | undefined {
    const top = this.#top;
    if (top.count === 0 || key < this.info.firstKey || key > this.info.lastKey) return undefined;
    const p = top.find(key);
    if (p === top.count) return undefined;
    // The key, if here, is in partition p: so is its filter key, in p's filter.
    const filterKey = filterChecked ? undefined : filterKeyOf(key, this.filterKeyParts);
    if (filterKey !== undefined && !this.#filterMayContain(p, murmur3(filterKey, BLOOM_SEED_1), murmur3(filterKey, BLOOM_SEED_2))) return undefined;
    const index = this.#indexScan;
    const indexAt = top.indexOffsets[p]!;
    index.reset(this.#partition(p), indexAt);
    if (!index.seek(key)) return undefined;
    const h = this.#handle;
    readHandle(index, indexAt, h);
    const scan = this.#scan;
    scan.reset(this.#block(h.offset, h.size), h.offset);
    if (!scan.seek(key) || scan.compare(key) !== 0) return undefined;
    return { kind: scan.kind as EntryKind, value: scan.value() };
  }

  /**
   * False when the segment surely holds no entry with this filter key (see
   * segment-format.ts: with filterKeyParts N > 0, a key's prefix through its N-th
   * terminator). A string with fewer than N terminators has no filter key: the filter
   * cannot tell, so the answer is true. A whole key is accepted too (its prefix is used).
   * Asks the filter of every partition the filter key's entries may be in (usually one).
   */
  mayContain(filterKey: string): boolean {
    const top = this.#top;
    if (top.count === 0) return false;
    const own = filterKeyOf(filterKey, this.filterKeyParts);
    if (own === undefined) return true;
    const p = top.find(own);
    if (p === top.count) return false;
    return this.#partitionsMayContain(p, own, murmur3(own, BLOOM_SEED_1), murmur3(own, BLOOM_SEED_2));
  }

  /**
   * {@link mayContain} for a filter key already cut with this segment's rule (its
   * `filterKeyParts`) and hashed by the caller: `h1`, `h2` its murmur3 hashes with
   * BLOOM_SEED_1 and BLOOM_SEED_2. A lookup that asks many segments hashes once.
   */
  mayContainHashed(own: string, h1: number, h2: number): boolean {
    const top = this.#top;
    if (top.count === 0) return false;
    const p = top.find(own);
    if (p === top.count) return false;
    return this.#partitionsMayContain(p, own, h1, h2);
  }

  #partitionsMayContain(p: number, own: string, h1: number, h2: number): boolean {
    const top = this.#top;
    for (;;) {
      if (this.#filterMayContain(p, h1, h2)) return true;
      // A whole key is in one partition; a prefix's entries go on into the next one
      // only while the separator still starts with it.
      if (this.filterKeyParts === 0 || !top.startsWith(p, own) || ++p === top.count) return false;
    }
  }

  /**
   * A cursor over the segment's entries (see types.ts); seek binary-searches the top
   * index, then a partition, then the restarts. `reuse`: a cursor (of any segment) its
   * caller is done with, turned into this one instead of allocating a new one (its two
   * block scanners and their key buffers are the costly part of a short read).
   */
  cursor(reuse?: SegmentCursor): SegmentCursor {
    const source = (this.#source ??= {
      partition: (p) => this.#partition(p),
      partitionAhead: (p, ahead) => this.#partitionAhead(p, ahead),
      block: (offset, size) => this.#block(offset, size),
      file: this.#file,
    });
    if (reuse === undefined) return new SegmentCursor(this.#top, source);
    reuse.attach(this.#top, source);
    return reuse;
  }

  /** Closes the file. Cursors and views from it must not be used after (values already returned stay readable). */
  close(): void {
    this.#file.close();
  }

  /** Whether filter partition p may hold the filter key hashed to (h1, h2). */
  #filterMayContain(p: number, h1: number, h2: number): boolean {
    const top = this.#top;
    const size = top.filterSizes[p]!;
    // No filter (bloomBitsPerKey = 0): anything may be there.
    if (size === 0) return true;
    const offset = top.filterOffsets[p]!;
    let block = this.#cache.get(this.info.fileNumber, offset);
    if (block === undefined) {
      block = this.#read(offset, size, 'filter partition');
      if (!isFilterBlock(block)) throw corruption(this.#file, offset, 'malformed filter partition');
      this.#cache.set(this.info.fileNumber, offset, block);
    }
    return filterBlockMayContain(block, h1, h2);
  }

  /** Index partition p (cached, or read and checked). */
  #partition(p: number): Uint8Array {
    const top = this.#top;
    const offset = top.indexOffsets[p]!;
    const cached = this.#cache.get(this.info.fileNumber, offset);
    if (cached !== undefined) return cached;
    const raw = readFully(this.#file, offset, top.indexSizes[p]! + BLOCK_CRC_BYTES);
    const block = owned(checkIndexPartition(raw, this.#file, offset, top.dataOffsets[p]!, top.dataOffsets[p + 1]!, this.#checkScan, this.#checkHandle));
    this.#cache.set(this.info.fileNumber, offset, block);
    return block;
  }

  /**
   * Index partition p for a sequential scan: from the cache, else from `ahead` (the
   * partitions a previous call read together), else read with the next ones, up to
   * the size `ahead` asks for, in one read (see {@link INDEX_READ_AHEAD_MIN}).
   */
  #partitionAhead(p: number, ahead: ReadAhead): Uint8Array {
    const top = this.#top;
    const offset = top.indexOffsets[p]!;
    const cached = this.#cache.get(this.info.fileNumber, offset);
    if (cached !== undefined) return cached;
    const size = top.indexSizes[p]!;
    if (!(offset >= ahead.start && offset + size + BLOCK_CRC_BYTES <= ahead.start + ahead.bytes.length)) {
      // Whole partitions, until the target is reached or the index ends.
      let end = offset + size + BLOCK_CRC_BYTES;
      for (let q = p + 1; q < top.count && end - offset < ahead.next; q++) end = top.indexOffsets[q]! + top.indexSizes[q]! + BLOCK_CRC_BYTES;
      ahead.bytes = owned(readFully(this.#file, offset, end - offset));
      ahead.start = offset;
      ahead.next = Math.min(INDEX_READ_AHEAD_MAX, 2 * ahead.next);
    }
    const at = offset - ahead.start;
    const raw = ahead.bytes.subarray(at, at + size + BLOCK_CRC_BYTES);
    const block = checkIndexPartition(raw, this.#file, offset, top.dataOffsets[p]!, top.dataOffsets[p + 1]!, this.#checkScan, this.#checkHandle);
    // Cached as a copy: a view would keep the whole read-ahead alive, uncounted.
    if (this.#cache.budget > 0) this.#cache.set(this.info.fileNumber, offset, block.slice());
    return block;
  }

  /** The data block at offset (cached, or read and checked). */
  #block(offset: number, size: number): Uint8Array {
    const cached = this.#cache.get(this.info.fileNumber, offset);
    if (cached !== undefined) return cached;
    const block = this.#read(offset, size, 'data block');
    BlockScan.check(block, this.#file, offset);
    this.#cache.set(this.info.fileNumber, offset, block);
    return block;
  }

  /** Reads a block and checks its CRC; the result owns its memory (fit to be cached). */
  #read(offset: number, size: number, what: string): Uint8Array {
    const raw = readFully(this.#file, offset, size + BLOCK_CRC_BYTES);
    if (crc32(raw, 0, 0, size) !== getU32(raw, size)) throw corruption(this.#file, offset, `${what} checksum mismatch`);
    return owned(raw.subarray(0, size));
  }
}

/** The index partitions a scanning cursor read together (see #partitionAhead). */
export interface ReadAhead {
  bytes: Uint8Array;
  /** Where bytes[0] is in the file. */
  start: number;
  /** How much the next read should take at least. */
  next: number;
}

/**
 * `bytes` itself when it is (nearly) all of its buffer, else a copy: a small view of a
 * big buffer (a read-ahead window) would keep the whole buffer alive in the cache.
 */
function owned(bytes: Uint8Array): Uint8Array {
  return bytes.buffer.byteLength <= bytes.length + 64 ? bytes : bytes.slice();
}

/** Reads exactly `length` bytes or reports the file as damaged (cut short). */
function readFully(file: RandomAccessFile, offset: number, length: number): Uint8Array {
  const bytes = file.read(offset, length);
  if (bytes.length !== length) throw corruption(file, offset, `short read (${bytes.length} of ${length} bytes): the file is cut short`);
  return bytes;
}

interface ParsedInfo extends SegmentInfo {
  readonly filterKeyParts: number;
}

function parseProperties(bytes: Uint8Array, damaged: (what: string) => Error, fileNumber: number, size: number): ParsedInfo {
  let p: unknown;
  try {
    p = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw damaged('not JSON');
  }
  if (typeof p !== 'object' || p === null) throw damaged('not an object');
  const r = p as Record<string, unknown>;
  if (r.formatVersion !== FORMAT_VERSION) throw damaged(`unknown format version ${String(r.formatVersion)}`);
  if (r.fileNumber !== fileNumber) throw damaged(`written as segment ${String(r.fileNumber)}, opened as ${fileNumber}`);
  const whole = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!whole(r.count) || !whole(r.filterKeyParts)) throw damaged('bad count or filterKeyParts');
  if (typeof r.firstKey !== 'string' || typeof r.lastKey !== 'string' || r.firstKey > r.lastKey) throw damaged('bad key range');
  if (typeof r.properties !== 'object' || r.properties === null || Array.isArray(r.properties)) throw damaged('bad properties');
  return {
    fileNumber,
    bytes: size,
    count: r.count,
    firstKey: r.firstKey,
    lastKey: r.lastKey,
    properties: r.properties as Record<string, unknown>,
    filterKeyParts: r.filterKeyParts,
  };
}

/** What a cursor needs of its reader (internal to segment reading; exported for {@link SegmentCursor.attach}'s type). */
export interface CursorSource {
  /** Index partition p, for a seek (through the cache). */
  partition(p: number): Uint8Array;
  /** Index partition p, for a scan going on into it (through the cache, else read ahead). */
  partitionAhead(p: number, ahead: ReadAhead): Uint8Array;
  /** The data block at offset (through the cache). */
  block(offset: number, size: number): Uint8Array;
  readonly file: RandomAccessFile;
}

/**
 * An ascending cursor over one segment. Holds its place in an index partition and in a
 * data block, and loads both as it goes (through the cache). Made by
 * {@link SegmentReader.cursor}, which may also re-point one at another segment.
 */
export class SegmentCursor implements EntryCursor {
  /** The current partition (-1 before any). */
  #p = -1;
  #valid = false;
  #top: TopIndex;
  #source: CursorSource;
  readonly #index: BlockScan;
  readonly #data: BlockScan;
  readonly #handle = new BlockHandle();
  readonly #ahead: ReadAhead = { bytes: NO_BYTES, start: 0, next: INDEX_READ_AHEAD_MIN };

  /** @internal use {@link SegmentReader.cursor} */
  constructor(top: TopIndex, source: CursorSource) {
    this.#top = top;
    this.#source = source;
    this.#index = new BlockScan(source.file);
    this.#data = new BlockScan(source.file);
  }

  /** @internal Re-points the cursor at another segment (or the same one), unpositioned. */
  attach(top: TopIndex, source: CursorSource): void {
    this.#top = top;
    this.#source = source;
    this.#index.file = source.file;
    this.#data.file = source.file;
    this.#p = -1;
    this.#valid = false;
    const ahead = this.#ahead;
    ahead.bytes = NO_BYTES;
    ahead.start = 0;
    ahead.next = INDEX_READ_AHEAD_MIN;
  }

  /** Whether the current entry's key starts with `prefix` (no string built). */
  startsWith(prefix: string): boolean {
    this.#check();
    return this.#data.startsWith(prefix);
  }

  /**
   * {@link next}, for a scan of the keys starting with `prefix` only (the current key
   * must start with it): at the end of a block it stops, invalid, instead of loading the
   * next block when that block cannot hold such a key — when the block's separator does
   * not start with `prefix` (being ≥ a key with the prefix, it is then above all of
   * them, and the next block's keys are above it). Saves reading a block a prefix scan
   * would throw away.
   */
  nextWithin(prefix: string): void {
    this.#check();
    if (this.#data.step()) return;
    if (!this.#index.startsWith(prefix)) {
      this.#valid = false;
      return;
    }
    this.#nextBlock();
  }

  valid(): boolean {
    return this.#valid;
  }

  key(): string {
    this.#check();
    return this.#data.keyString();
  }

  kind(): EntryKind {
    this.#check();
    return this.#data.kind as EntryKind;
  }

  value(): Uint8Array {
    this.#check();
    return this.#data.value();
  }

  next(): void {
    this.#check();
    if (this.#data.step()) return;
    this.#nextBlock();
  }

  seek(key: string): void {
    const p = this.#top.find(key);
    if (p === this.#top.count) {
      this.#end();
      return;
    }
    this.#enter(p, this.#source.partition(p));
    if (this.#index.seek(key)) {
      this.#load();
      // Past the block's last key but not past its separator: the next block.
      if (this.#data.seek(key)) {
        this.#valid = true;
        return;
      }
    }
    this.#nextBlock();
  }

  seekToFirst(): void {
    if (this.#top.count === 0) {
      this.#end();
      return;
    }
    this.#enter(0, this.#source.partitionAhead(0, this.#ahead));
    this.#nextBlock();
  }

  /** Positions on the first entry of the block after the current index entry (in this partition or the next ones), or nowhere. */
  #nextBlock(): void {
    while (!this.#index.step()) {
      const p = this.#p + 1;
      if (p >= this.#top.count) {
        this.#end();
        return;
      }
      this.#enter(p, this.#source.partitionAhead(p, this.#ahead));
    }
    this.#load();
    // Every block holds at least one entry (checked when it was read).
    this.#valid = this.#data.step();
  }

  #enter(p: number, partition: Uint8Array): void {
    this.#p = p;
    this.#index.reset(partition, this.#top.indexOffsets[p]!);
  }

  /** Loads the data block of the current index entry. */
  #load(): void {
    const h = this.#handle;
    readHandle(this.#index, this.#top.indexOffsets[this.#p]!, h);
    this.#data.reset(this.#source.block(h.offset, h.size), h.offset);
  }

  #end(): void {
    this.#valid = false;
    this.#p = this.#top.count;
  }

  #check(): void {
    if (!this.#valid) throw new InvalidArgumentError('the cursor is not on an entry');
  }
}
