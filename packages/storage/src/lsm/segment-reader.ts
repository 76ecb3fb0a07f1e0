/**
 * Reads a segment file (format in segment-format.ts). Opening reads and checks only the
 * footer, filter, index and properties, which stay in memory; data blocks are read on
 * demand, checked against their CRC before anything in them is decoded, and shared
 * through the {@link BlockCache}. Damaged bytes raise CORRUPTION, never a wrong answer.
 *
 * Values handed out (by `get` and cursors) are views into cached blocks: callers must
 * not mutate them, and copy them if they keep them long (a view pins its whole block).
 */
import { InvalidArgumentError } from '@koru/engine';
import { BloomFilter } from './bloom.js';
import { crc32 } from './checksum.js';
import type { RandomAccessFile } from './io.js';
import { BlockDecoder, BlockScan, BLOCK_CRC_BYTES, binaryString, corruption, filterKeyOf, FOOTER_BYTES, FORMAT_VERSION, getU32, SEGMENT_MAGIC } from './segment-format.js';
import type { BlockCache, EntryCursor, EntryKind, Found, SegmentInfo } from './types.js';

/** Approximate bytes of an index entry beyond its key's chars (string header, offset, size). */
const INDEX_ENTRY_OVERHEAD = 40;

/** An open segment file. Not shared between threads. */
export class SegmentReader {
  /** What the segment holds (from its properties block; `bytes` is the file's size). */
  readonly info: SegmentInfo;
  /** Memory held outside the cache (index + filter + props), for the memory budget. */
  readonly residentBytes: number;
  /** The filter-key rule the segment was written with (see segment-format.ts). */
  readonly filterKeyParts: number;
  readonly #file: RandomAccessFile;
  readonly #cache: BlockCache;
  /** Index: the key bounding block i, where it starts and its size (without its CRC). */
  readonly #keys: readonly string[];
  readonly #offsets: Float64Array;
  readonly #sizes: Float64Array;
  readonly #filter: BloomFilter;
  /** Reused by `get`: lookups run one at a time, so one scanner is enough. */
  readonly #scan: BlockScan;

  private constructor(file: RandomAccessFile, cache: BlockCache, info: SegmentInfo, filterKeyParts: number, keys: string[], offsets: Float64Array, sizes: Float64Array, filter: BloomFilter, propsBytes: number) {
    this.#file = file;
    this.#cache = cache;
    this.info = info;
    this.filterKeyParts = filterKeyParts;
    this.#keys = keys;
    this.#offsets = offsets;
    this.#sizes = sizes;
    this.#filter = filter;
    this.#scan = new BlockScan(file);
    let keyChars = 0;
    for (const k of keys) keyChars += k.length;
    this.residentBytes = keyChars + keys.length * INDEX_ENTRY_OVERHEAD + filter.bytes + 2 * propsBytes;
  }

  /**
   * Reads only the footer, index, filter and properties (checked); data blocks are read on demand through `cache`.
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
    const indexOffset = fd.u64();
    const indexSize = fd.u32();
    const filterOffset = fd.u64();
    const filterSize = fd.u32();
    const propsOffset = fd.u64();
    const propsSize = fd.u32();
    // The parts must tile the file exactly, so every byte is under some checksum.
    if (filterOffset + filterSize + BLOCK_CRC_BYTES !== indexOffset || indexOffset + indexSize + BLOCK_CRC_BYTES !== propsOffset || propsOffset + propsSize + BLOCK_CRC_BYTES !== footerAt) {
      throw corruption(file, footerAt, 'the footer does not describe the file');
    }
    const meta = readFully(file, filterOffset, footerAt - filterOffset);
    const checked = (offset: number, length: number): Uint8Array => {
      const at = offset - filterOffset;
      if (crc32(meta, 0, at, at + length) !== getU32(meta, at + length)) throw corruption(file, offset, 'checksum mismatch');
      return meta.subarray(at, at + length);
    };
    const filterBlock = checked(filterOffset, filterSize);
    const indexBlock = checked(indexOffset, indexSize);
    const propsBlock = checked(propsOffset, propsSize);

    // Copied out so the index and properties bytes are not kept alive through it.
    const filter = BloomFilter.parse(filterBlock.slice());
    if (filter === undefined) throw corruption(file, filterOffset, 'malformed filter block');

    const damagedIndex = (what: string) => corruption(file, indexOffset, `index: ${what}`);
    if (indexSize < 4) throw damagedIndex('too short');
    const blockCount = getU32(indexBlock, indexSize - 4);
    const id = new BlockDecoder(indexBlock, indexSize - 4, damagedIndex);
    const keys: string[] = [];
    const offsets = new Float64Array(blockCount);
    const sizes = new Float64Array(blockCount);
    let expected = 0;
    for (let i = 0; i < blockCount; i++) {
      const key = id.binary(id.varint());
      if (i > 0 && !(key > keys[i - 1]!)) throw damagedIndex('keys out of order');
      keys.push(key);
      offsets[i] = id.varint();
      sizes[i] = id.varint();
      if (offsets[i] !== expected || sizes[i]! < 9) throw damagedIndex(`block ${i} is not where it should be`);
      expected += sizes[i]! + BLOCK_CRC_BYTES;
    }
    if (id.pos !== indexSize - 4 || expected !== filterOffset) throw damagedIndex('blocks do not cover the data');

    const info = parseProperties(propsBlock, (what) => corruption(file, propsOffset, `properties: ${what}`), fileNumber, size);
    const parts = info.filterKeyParts;
    if ((info.count === 0) !== (blockCount === 0) || info.count < blockCount || (blockCount > 0 && (info.firstKey > keys[0]! || info.lastKey > keys[blockCount - 1]!))) {
      throw corruption(file, propsOffset, 'properties disagree with the index');
    }
    const { filterKeyParts: _, ...segment } = info;
    return new SegmentReader(file, cache, segment, parts, keys, offsets, sizes, filter, propsSize);
  }

  /** The newest entry of exactly `key` in this segment, or undefined. Its value is a view (see module doc). */
  get(key: string): Found | undefined {
    if (this.#keys.length === 0 || key < this.info.firstKey || key > this.info.lastKey) return undefined;
    const filterKey = filterKeyOf(key, this.filterKeyParts);
    if (filterKey !== undefined && !this.#filter.mayContain(filterKey)) return undefined;
    const b = this.#findBlock(key);
    if (b === this.#keys.length) return undefined;
    const scan = this.#scan;
    scan.reset(this.#block(b), this.#offsets[b]!);
    if (!scan.seek(key) || scan.compare(key) !== 0) return undefined;
    return { kind: scan.kind as EntryKind, value: scan.value() };
  }

  /**
   * False when the segment surely holds no entry with this filter key (see
   * segment-format.ts: with filterKeyParts N > 0, a key's prefix through its N-th
   * terminator). A string with fewer than N terminators has no filter key: the filter
   * cannot tell, so the answer is true. A whole key is accepted too (its prefix is used).
   */
  mayContain(filterKey: string): boolean {
    if (this.#keys.length === 0) return false;
    const own = filterKeyOf(filterKey, this.filterKeyParts);
    return own === undefined || this.#filter.mayContain(own);
  }

  /** A cursor over the segment's entries (see types.ts); seek binary-searches the index, then the restarts. */
  cursor(): EntryCursor {
    return new SegmentCursor(this.#keys, this.#offsets, (b) => this.#block(b), new BlockScan(this.#file));
  }

  /** Closes the file. Cursors and views from it must not be used after (values already returned stay readable). */
  close(): void {
    this.#file.close();
  }

  #findBlock(key: string): number {
    return findBlock(this.#keys, key);
  }

  #block(b: number): Uint8Array {
    const offset = this.#offsets[b]!;
    const cached = this.#cache.get(this.info.fileNumber, offset);
    if (cached !== undefined) return cached;
    const size = this.#sizes[b]!;
    const raw = readFully(this.#file, offset, size + BLOCK_CRC_BYTES);
    if (crc32(raw, 0, 0, size) !== getU32(raw, size)) throw corruption(this.#file, offset, 'data block checksum mismatch');
    const block = raw.subarray(0, size);
    BlockScan.check(block, this.#file, offset);
    this.#cache.set(this.info.fileNumber, offset, block);
    return block;
  }
}

/** The first block whose index key is ≥ key (keys.length when none): binary search. */
function findBlock(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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

/** An ascending cursor over one segment. Loads blocks as it goes (through the cache). */
class SegmentCursor implements EntryCursor {
  #block = -1;
  #valid = false;

  /**
   * @param keys the reader's index keys, @param offsets where each block starts,
   * @param load gives block `b` (cached, or read and checked).
   */
  constructor(
    readonly keys: readonly string[],
    readonly offsets: Float64Array,
    readonly load: (b: number) => Uint8Array,
    readonly scan: BlockScan,
  ) {}

  valid(): boolean {
    return this.#valid;
  }

  key(): string {
    this.#check();
    return this.scan.keyString();
  }

  kind(): EntryKind {
    this.#check();
    return this.scan.kind as EntryKind;
  }

  value(): Uint8Array {
    this.#check();
    return this.scan.value();
  }

  next(): void {
    this.#check();
    if (this.scan.step()) return;
    this.#enter(this.#block + 1);
  }

  seek(key: string): void {
    const b = findBlock(this.keys, key);
    if (b < this.keys.length) {
      this.#load(b);
      // Past the block's last key but not past its index key (a separator): the next block.
      if (this.scan.seek(key)) {
        this.#valid = true;
        return;
      }
    }
    this.#enter(b + 1);
  }

  seekToFirst(): void {
    this.#enter(0);
  }

  /** Positions on the first entry of block `b` or, past the last block, nowhere. */
  #enter(b: number): void {
    if (b >= this.keys.length) {
      this.#valid = false;
      this.#block = this.keys.length;
      return;
    }
    this.#load(b);
    // Every block holds at least one entry (checked when it was read).
    this.#valid = this.scan.step();
  }

  #load(b: number): void {
    this.#block = b;
    this.scan.reset(this.load(b), this.offsets[b]!);
  }

  #check(): void {
    if (!this.#valid) throw new InvalidArgumentError('the cursor is not on an entry');
  }
}
