/**
 * The two levels of a segment's index (format in segment-format.ts): index partitions,
 * written like data blocks (separator → block handle) and read on demand through the
 * block cache, and the top index (one entry per partition), which is all a reader keeps.
 */
import { crc32 } from './checksum.js';
import type { RandomAccessFile } from './io.js';
import { BlockScan } from './segment-block.js';
import { BlockDecoder, BLOCK_CRC_BYTES, ByteBuffer, corruption } from './segment-format.js';
import { getU32, putVarint, varintSize } from './bytes.js';
import type { CorruptionError } from '../errors.js';

/** Builds the index partitions of a segment being written, one at a time. */
export class IndexPartitionBuilder {
  readonly #buffer = new ByteBuffer(8192);
  #restarts: number[] = [];
  #sinceRestart = 0;
  #lastKey = '';
  #count = 0;

  /** @param restartInterval entries between restart points (as in data blocks). */
  constructor(readonly restartInterval: number) {}

  /** Entries in the partition being built. */
  get count(): number {
    return this.#count;
  }

  /** Bytes the partition would take if finished now (without its CRC). */
  get size(): number {
    return this.#buffer.length + 4 * this.#restarts.length + 4;
  }

  /** Adds the entry of a data block: its separator (above the previous one) and where it is. */
  add(separator: string, offset: number, size: number): void {
    let shared = 0;
    if (this.#count > 0 && this.#sinceRestart < this.restartInterval) {
      const prev = this.#lastKey;
      const n = Math.min(prev.length, separator.length);
      while (shared < n && prev.charCodeAt(shared) === separator.charCodeAt(shared)) shared++;
    } else {
      this.#restarts.push(this.#buffer.length);
      this.#sinceRestart = 0;
    }
    const valueLength = varintSize(offset) + varintSize(size);
    const b = this.#buffer;
    b.varint(shared);
    b.varint(separator.length - shared);
    b.varint(valueLength);
    b.reserve(1)[b.length++] = 0;
    b.binary(separator, shared);
    const out = b.reserve(valueLength);
    b.length = putVarint(out, putVarint(out, b.length, offset), size);
    this.#sinceRestart++;
    this.#lastKey = separator;
    this.#count++;
  }

  /** Appends the partition (entries, restart trailer) and its CRC to `out`, then starts a new one. Returns its size (without the CRC). */
  finishInto(out: ByteBuffer): number {
    const start = out.length;
    out.append(this.#buffer.view());
    for (const r of this.#restarts) out.u32(r);
    out.u32(this.#restarts.length);
    const size = out.length - start;
    out.crcFrom(start);
    this.#buffer.length = 0;
    this.#restarts = [];
    this.#sinceRestart = 0;
    this.#count = 0;
    return size;
  }
}

/** Where a block is: set by {@link readHandle}, reused so that a lookup allocates nothing. */
export class BlockHandle {
  offset = 0;
  size = 0;
}

/**
 * Reads the handle (offset, size) that is the value of the index entry `scan` is on.
 * @throws CorruptionError when the value is not two varints
 */
export function readHandle(scan: BlockScan, at: number, into: BlockHandle): void {
  const b = scan.block;
  let p = scan.valueStart;
  const end = p + scan.valueLength;
  for (let n = 0; n < 2; n++) {
    let v = 0;
    let mult = 1;
    for (let i = 0; ; i++) {
      if (p >= end || i === 8) throw corruption(scan.file, at, 'index: malformed block handle');
      const x = b[p++]!;
      v += (x & 127) * mult;
      if (x < 128) break;
      mult *= 128;
    }
    if (n === 0) into.offset = v;
    else into.size = v;
  }
  if (p !== end) throw corruption(scan.file, at, 'index: malformed block handle');
}

/**
 * The top index of a segment, decoded once at open into flat arrays: every partition's
 * last separator (all keys' bytes in one array, with where each ends), where its data
 * starts, and where its index and filter partitions are. Compact on purpose: it is the
 * only part of a segment held in memory while it is open.
 */
export class TopIndex {
  /** Number of partitions. */
  readonly count: number;
  /** Where partition p's data blocks start; entry `count` is where the data ends. */
  readonly dataOffsets: Float64Array;
  readonly indexOffsets: Float64Array;
  readonly indexSizes: Uint32Array;
  readonly filterOffsets: Float64Array;
  readonly filterSizes: Uint32Array;
  /** Every separator's bytes, one after the other; separator p ends at keyEnds[p]. */
  readonly #keys: Uint8Array;
  readonly #keyEnds: Uint32Array;

  private constructor(count: number, keys: Uint8Array, keyEnds: Uint32Array, arrays: { dataOffsets: Float64Array; indexOffsets: Float64Array; indexSizes: Uint32Array; filterOffsets: Float64Array; filterSizes: Uint32Array }) {
    this.count = count;
    this.#keys = keys;
    this.#keyEnds = keyEnds;
    this.dataOffsets = arrays.dataOffsets;
    this.indexOffsets = arrays.indexOffsets;
    this.indexSizes = arrays.indexSizes;
    this.filterOffsets = arrays.filterOffsets;
    this.filterSizes = arrays.filterSizes;
  }

  /**
   * Decodes a CRC-checked top index block and checks that the partitions it lists tile
   * the file up to `end` (where the top index starts): data from 0, then the index
   * partitions, then the filter partitions.
   * @throws CorruptionError (from `damaged`)
   */
  static parse(block: Uint8Array, end: number, damaged: (what: string) => CorruptionError): TopIndex {
    if (block.length < 4) throw damaged('too short');
    const count = getU32(block, block.length - 4);
    // Each entry takes at least 6 bytes: a count beyond that is damage, not an allocation to try.
    if (count > (block.length - 4) / 6) throw damaged('too many partitions');
    const d = new BlockDecoder(block, block.length - 4, damaged);
    const keyStarts = new Uint32Array(count);
    const keyEnds = new Uint32Array(count);
    const dataOffsets = new Float64Array(count + 1);
    const indexOffsets = new Float64Array(count);
    const indexSizes = new Uint32Array(count);
    const filterOffsets = new Float64Array(count);
    const filterSizes = new Uint32Array(count);
    let keyBytes = 0;
    for (let p = 0; p < count; p++) {
      const length = d.varint();
      const start = d.pos;
      if (start + length > block.length - 4) throw damaged('a key runs past its block');
      d.pos += length;
      if (p > 0 && compareBytes(block, keyStarts[p - 1]!, keyStarts[p - 1]! + keyEnds[p - 1]! - (p > 1 ? keyEnds[p - 2]! : 0), start, d.pos) >= 0) throw damaged('keys out of order');
      keyStarts[p] = start;
      keyBytes += length;
      keyEnds[p] = keyBytes;
      dataOffsets[p] = d.varint();
      indexOffsets[p] = d.varint();
      indexSizes[p] = d.varint();
      filterOffsets[p] = d.varint();
      filterSizes[p] = d.varint();
    }
    if (d.pos !== block.length - 4) throw damaged('entries do not fill the block');
    // The layout must tile the file exactly, so every byte is under some checksum.
    const dataEnd = count === 0 ? 0 : indexOffsets[0]!;
    dataOffsets[count] = dataEnd;
    let at = dataEnd;
    for (let p = 0; p < count; p++) {
      if ((p === 0 && dataOffsets[0] !== 0) || !(dataOffsets[p]! < dataOffsets[p + 1]!)) throw damaged(`partition ${p}'s data is not where it should be`);
      if (indexOffsets[p] !== at || indexSizes[p]! < 9) throw damaged(`index partition ${p} is not where it should be`);
      at += indexSizes[p]! + BLOCK_CRC_BYTES;
    }
    for (let p = 0; p < count; p++) {
      if (filterOffsets[p] !== at) throw damaged(`filter partition ${p} is not where it should be`);
      if (filterSizes[p]! > 0) at += filterSizes[p]! + BLOCK_CRC_BYTES;
    }
    if (at !== end) throw damaged('the partitions do not cover the file');
    const keys = new Uint8Array(keyBytes);
    for (let p = 0; p < count; p++) keys.set(block.subarray(keyStarts[p]!, keyStarts[p]! + keyEnds[p]! - (p === 0 ? 0 : keyEnds[p - 1]!)), p === 0 ? 0 : keyEnds[p - 1]!);
    return new TopIndex(count, keys, keyEnds, { dataOffsets, indexOffsets, indexSizes, filterOffsets, filterSizes });
  }

  /** Approximate bytes held (the arrays and their headers). */
  get bytes(): number {
    return this.#keys.length + 40 * this.count + 8 * 80;
  }

  /** Partition p's separator compared with `key` (negative, 0, positive), in byte order. */
  compare(p: number, key: string): number {
    const keys = this.#keys;
    const start = p === 0 ? 0 : this.#keyEnds[p - 1]!;
    const length = this.#keyEnds[p]! - start;
    const n = Math.min(length, key.length);
    for (let i = 0; i < n; i++) {
      const d = keys[start + i]! - key.charCodeAt(i);
      if (d !== 0) return d;
    }
    return length - key.length;
  }

  /** Whether partition p's separator starts with `prefix` (then the next partition may hold keys with that prefix too). */
  startsWith(p: number, prefix: string): boolean {
    const keys = this.#keys;
    const start = p === 0 ? 0 : this.#keyEnds[p - 1]!;
    if (this.#keyEnds[p]! - start < prefix.length) return false;
    for (let i = 0; i < prefix.length; i++) if (keys[start + i] !== prefix.charCodeAt(i)) return false;
    return true;
  }

  /** The first partition whose separator is ≥ key (the one that may hold it), or `count`. */
  find(key: string): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compare(mid, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** bytes[a, aEnd) compared with bytes[b, bEnd). */
function compareBytes(bytes: Uint8Array, a: number, aEnd: number, b: number, bEnd: number): number {
  const n = Math.min(aEnd - a, bEnd - b);
  for (let i = 0; i < n; i++) {
    const d = bytes[a + i]! - bytes[b + i]!;
    if (d !== 0) return d;
  }
  return aEnd - a - (bEnd - b);
}

/**
 * Checks an index partition read from the file (`raw`: its bytes then its CRC): the CRC,
 * the restart trailer, and that the data blocks it lists tile [dataStart, dataEnd)
 * (each at least 9 bytes: an entry, a restart, the count). Returns the partition's bytes.
 * @throws CorruptionError { file, offset }
 */
export function checkIndexPartition(raw: Uint8Array, file: RandomAccessFile, offset: number, dataStart: number, dataEnd: number, scan: BlockScan, handle: BlockHandle): Uint8Array {
  const size = raw.length - BLOCK_CRC_BYTES;
  if (crc32(raw, 0, 0, size) !== getU32(raw, size)) throw corruption(file, offset, 'index partition checksum mismatch');
  const block = raw.subarray(0, size);
  BlockScan.check(block, file, offset);
  scan.reset(block, offset);
  let expected = dataStart;
  while (scan.step()) {
    readHandle(scan, offset, handle);
    if (handle.offset !== expected || handle.size < 9) throw corruption(file, offset, 'index: a block is not where it should be');
    expected += handle.size + BLOCK_CRC_BYTES;
  }
  if (expected !== dataEnd) throw corruption(file, offset, "index: the blocks do not cover the partition's data");
  return block;
}
