/**
 * Segment file format, version 2: an immutable, sorted, checksummed run of entries whose
 * index and Bloom filter are partitioned, so that an open reader keeps only a small
 * top-level index in memory and reads the rest on demand through the block cache.
 *
 * Conventions. Integers are little-endian. `varint` is unsigned LEB128 (7 bits a byte,
 * low group first, high bit set on every byte but the last; at most 8 bytes, values
 * below 2^53). `u64` is two u32: the low 32 bits, then the high 32 bits (values below
 * 2^53). `CRC` is the CRC-32 of lsm/checksum.ts (IEEE, as zlib). Keys are binary
 * strings (one byte a char, see types.ts) and are stored as those bytes.
 *
 *     file := dataBlock* indexPartition* filterPartition* topIndexBlock propertiesBlock footer
 *
 * Every block (data block, index partition, filter partition, top index, properties) is
 * stored as its bytes followed by a u32 CRC of exactly those bytes; the one exception
 * is a filter partition of size 0 ("no filter", bloomBitsPerKey = 0), which has no bytes
 * and no CRC. A block's "offset" and "size" name its bytes, not the CRC after them. The
 * parts follow each other with no gap: the first data block is at offset 0, each block
 * starts right after the previous one's CRC, the index partitions right after the last
 * data block, the filter partitions right after the last index partition, then the top
 * index, the properties and the footer, which ends the file (an empty segment is just
 * its top index, properties and footer). A reader checks at open that the footer, top
 * index and properties tile the end of the file and that the top index's partitions
 * tile the rest, and when it first reads an index partition, that the data blocks it
 * lists tile that partition's share of the data; it checks every CRC before it decodes
 * the bytes under it. CRC-32 catches every error confined to 32 consecutive bits, so any
 * flipped bit or byte, anywhere, is reported when its part is read (the footer, top
 * index and properties at open; an index or filter partition or a data block when a
 * lookup or scan first needs it).
 *
 * Data block (about `blockBytes`, default 4096; a block never passes `blockBytes`
 * unless it holds a single entry that alone does, e.g. a 16 MiB value):
 *
 *     entry* restartOffset:u32 × R  R:u32
 *     entry := shared:varint unshared:varint valueLength:varint kind:u8
 *              keySuffix:byte × unshared  value:byte × valueLength
 *
 * Entries are in strictly ascending key order (byte order), across blocks too. An
 * entry's key is the first `shared` bytes of the previous entry's key in the block
 * followed by `keySuffix`. `kind` is KIND_PUT (0) or KIND_DELETE (1; its value is
 * empty). Entries 0, I, 2I, … of each block (I = `restartInterval`, default 16) are
 * restart points: they have shared = 0, and their offsets in the block are listed
 * in the trailer (ascending; the first is 0; R ≥ 1), so a search binary-searches the
 * restarts and decodes at most one interval.
 *
 * Index partition: a block in the data-block layout above (same restart interval), one
 * entry per data block, in order, kind 0, whose key is the block's *separator* and whose
 * value is the block's handle:
 *
 *     value := offset:varint size:varint
 *
 * The separator is ≥ the block's last key and < the next block's first key (the writer
 * uses a short separator when one exists, else the last key; for the segment's last
 * block, its last key), so the block that may hold key x is the first whose separator
 * is ≥ x. A partition ends after the entry that brings it to `blockBytes` or more (so
 * it is about `blockBytes`, more only by its last entry), and at the last data block.
 * Its data blocks are consecutive: the first starts at the partition's dataOffset (in
 * the top index), each next one right after the previous one's CRC, and the last one's
 * CRC ends where the next partition's data starts (for the last partition, where the
 * first index partition starts).
 *
 * Filter partition p: a Bloom filter over the *filter keys* of the entries in the data
 * blocks of index partition p (so the entries of one filter key, when they span two
 * partitions, are in both filters).
 *
 *     bits:byte × m  k:u8
 *
 * Bit b (byte b >> 3, bit b & 7, least significant first) is set for each of
 * the k probes b = ((h1 + i·h2) mod 2^32) mod 8m, i = 0…k−1, of every filter key, where
 * h1 and h2 are MurmurHash3_x86_32 of the filter key's bytes with seeds 0x9747b28c
 * and 0x3c6ef372 ({@link BLOOM_SEED_1}, {@link BLOOM_SEED_2}; for reference, seed 0
 * gives 0x248bfa47 for "hello"). m = 0 when the partition has no filter key (then
 * nothing is present); else m = max(8, ceil(n · bitsPerKey / 8)) for n filter keys, and
 * k = clamp(round(bitsPerKey · ln 2), 1, 30). With bloomBitsPerKey = 0 every filter
 * partition has size 0 and no bytes at all: every key may be present.
 * A key's filter key depends on `filterKeyParts` N (in the properties): N = 0, the
 * whole key; N > 0, the key's prefix through the end of its N-th terminator 0x00 0x01
 * (the version store's names end with 0x00 0x01 and escape a 0x00 byte as 0x00 0xFF,
 * so N = 2 groups every version of one namespace+key). A key with fewer than N
 * terminators has no filter key and is not in the filter. Equal consecutive filter
 * keys within a partition are added once.
 * A reader asks the filter of the partition that may hold a key (for a get), or of every
 * partition whose key range meets the filter key's (for `mayContain`: the first whose
 * separator is ≥ the filter key, and each next one while the previous separator still
 * starts with the filter key, since its entries may continue there).
 *
 * Top index block: one entry per index partition, in order, then their number P.
 *
 *     (keyLength:varint key:byte × keyLength dataOffset:varint indexOffset:varint
 *      indexSize:varint filterOffset:varint filterSize:varint) × P  P:u32
 *
 * `key` is the partition's last separator (strictly ascending across entries);
 * dataOffset is where its first data block starts (0 for the first; ascending);
 * indexOffset/indexSize and filterOffset/filterSize locate its index and filter
 * partitions. The reader keeps this block, decoded, in memory: a few KB per segment.
 *
 * Properties block: UTF-8 JSON of { formatVersion: 2, fileNumber, count, firstKey,
 * lastKey, filterKeyParts, properties } (`properties`: the caller's JSON-safe object;
 * firstKey and lastKey are binary strings, "" when count = 0). A reader refuses a file
 * whose fileNumber is not the number it was opened as (a misnamed file).
 *
 * Footer, the last {@link FOOTER_BYTES} = 36 bytes:
 *
 *     magic "KDSEG002"  topIndexOffset:u64 topIndexSize:u32
 *     propertiesOffset:u64 propertiesSize:u32  footerCrc:u32
 *
 * footerCrc is the CRC of the footer's first 32 bytes.
 */
import { CorruptionError } from '../errors.js';
import { crc32 } from './checksum.js';
import type { RandomAccessFile } from './io.js';
import { getU32, putU32, putVarint } from './bytes.js';

/** The footer's first 8 bytes, "KDSEG002". */
export const SEGMENT_MAGIC = 'KDSEG002';
/** Size of the footer at the end of every segment file. */
export const FOOTER_BYTES = 36;
/** Bytes of the CRC stored after every block. */
export const BLOCK_CRC_BYTES = 4;
/** Version written in the properties block. */
export const FORMAT_VERSION = 2;

/** Default target size of a data block. */
export const DEFAULT_BLOCK_BYTES = 4096;
/** Default number of entries between restart points. */
export const DEFAULT_RESTART_INTERVAL = 16;
/** Default Bloom filter bits per filter key (≈ 0.8 % false positives). */
export const DEFAULT_BLOOM_BITS_PER_KEY = 10;
/** The end of each name in the version store's keys. */
export const NAME_TERMINATOR = '\x00\x01';

/** Seeds of the two Bloom hashes (fixed by the format). */
export const BLOOM_SEED_1 = 0x9747b28c;
export const BLOOM_SEED_2 = 0x3c6ef372;

/**
 * The filter key of `key` for `parts` (see the module doc): the whole key for 0, else
 * its prefix through its `parts`-th terminator, or undefined when it has fewer.
 */
export function filterKeyOf(key: string, parts: number): string | undefined {
  if (parts === 0) return key;
  let end = 0;
  for (let n = 0; n < parts; n++) {
    const at = key.indexOf(NAME_TERMINATOR, end);
    if (at < 0) return undefined;
    end = at + 2;
  }
  return end === key.length ? key : key.slice(0, end);
}





/**
 * A bounds-checked reader of the varints and bytes of a verified metadata block (index,
 * footer): a value that does not fit means the writer and reader disagree, reported as
 * damage rather than decoded into nonsense.
 */
export class BlockDecoder {
  /** Position of the next byte to read. */
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    readonly end: number,
    readonly damaged: (what: string) => CorruptionError,
    start = 0,
  ) {
    this.pos = start;
  }

  varint(): number {
    let result = 0;
    let mult = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw this.damaged('a varint runs past its block');
      const b = this.bytes[this.pos++]!;
      result += (b & 127) * mult;
      if (b < 128) {
        if (!Number.isSafeInteger(result)) break;
        return result;
      }
      mult *= 128;
    }
    throw this.damaged('a varint is too long');
  }

  u32(): number {
    if (this.pos + 4 > this.end) throw this.damaged('a number runs past its block');
    const v = getU32(this.bytes, this.pos);
    this.pos += 4;
    return v;
  }

  u64(): number {
    const low = this.u32();
    const high = this.u32();
    if (high >= 0x200000) throw this.damaged('an offset is too large');
    return high * 0x100000000 + low;
  }

  /** `length` bytes as a binary string. */
  binary(length: number): string {
    if (this.pos + length > this.end) throw this.damaged('a key runs past its block');
    const s = binaryString(this.bytes, this.pos, this.pos + length);
    this.pos += length;
    return s;
  }
}

/** bytes[start, end) as a binary string, one fromCharCode call per 4 KiB. */
export function binaryString(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= 4096) return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  let s = '';
  for (let i = start; i < end; i += 4096) s += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  return s;
}

/** A growable byte buffer for building blocks. */
export class ByteBuffer {
  bytes: Uint8Array;
  length = 0;
  constructor(capacity = 256) {
    this.bytes = new Uint8Array(capacity);
  }

  /** Makes room for `extra` more bytes; returns the (possibly new) array. */
  reserve(extra: number): Uint8Array {
    const need = this.length + extra;
    if (need > this.bytes.length) {
      const grown = new Uint8Array(Math.max(need, this.bytes.length * 2));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    return this.bytes;
  }

  varint(v: number): void {
    this.reserve(8);
    this.length = putVarint(this.bytes, this.length, v);
  }

  u32(v: number): void {
    this.reserve(4);
    putU32(this.bytes, this.length, v);
    this.length += 4;
  }

  u64(v: number): void {
    this.u32(v % 0x100000000);
    this.u32(Math.floor(v / 0x100000000));
  }

  /** Appends the bytes of a binary string, from its char `start` on. */
  binary(s: string, start = 0): void {
    const out = this.reserve(s.length - start);
    let at = this.length;
    for (let i = start; i < s.length; i++) out[at++] = s.charCodeAt(i);
    this.length = at;
  }

  append(bytes: Uint8Array): void {
    this.reserve(bytes.length).set(bytes, this.length);
    this.length += bytes.length;
  }

  /** Appends the CRC of everything from `start` to now (a block's trailer). */
  crcFrom(start: number): void {
    this.u32(crc32(this.bytes, 0, start, this.length));
  }

  view(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

/** Where the footer says the top index and the properties are. */
export interface Footer {
  readonly topIndexOffset: number;
  readonly topIndexSize: number;
  readonly propsOffset: number;
  readonly propsSize: number;
}

/** Encodes a footer (with its magic and CRC). */
export function encodeFooter(f: Footer): Uint8Array {
  const b = new ByteBuffer(FOOTER_BYTES);
  b.binary(SEGMENT_MAGIC);
  b.u64(f.topIndexOffset);
  b.u32(f.topIndexSize);
  b.u64(f.propsOffset);
  b.u32(f.propsSize);
  b.crcFrom(0);
  return b.view();
}

/** A CorruptionError naming the file and the offset of the damaged part. */
export function corruption(file: RandomAccessFile, offset: number, what: string): CorruptionError {
  return new CorruptionError(`segment ${file.name} is damaged at offset ${offset}: ${what}`, { file: file.name, offset });
}
