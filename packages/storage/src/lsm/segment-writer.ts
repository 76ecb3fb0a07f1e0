/**
 * Writes one segment file (format in segment-format.ts) from entries given in strictly
 * ascending key order: data blocks as they fill, then the filter, index, properties and
 * footer. The file is only appended to, so a writer that dies midway leaves a file
 * without a valid footer, which no reader accepts.
 */
import { InvalidArgumentError } from '@koru/engine';
import { BloomBuilder } from './bloom.js';
import { crc32 } from './checksum.js';
import type { RandomAccessFile } from './io.js';
import {
  BLOCK_CRC_BYTES,
  ByteBuffer,
  DEFAULT_BLOCK_BYTES,
  DEFAULT_BLOOM_BITS_PER_KEY,
  DEFAULT_RESTART_INTERVAL,
  encodeFooter,
  filterKeyOf,
  FOOTER_BYTES,
  FORMAT_VERSION,
  putU32,
  putVarint,
  varintSize,
} from './segment-format.js';
import { KIND_DELETE, KIND_PUT, type EntryKind, type SegmentInfo } from './types.js';

/** How a segment is laid out. */
export interface SegmentWriterOptions {
  /** Target size of a data block (default 4096; at least 64). */
  readonly blockBytes?: number;
  /** Entries between restart points in a block (default 16; at least 1). */
  readonly restartInterval?: number;
  /** Bloom filter bits per filter key (default 10; 0 = no filter). */
  readonly bloomBitsPerKey?: number;
  /** Which prefix of a key the filter holds (default 0 = whole key; see segment-format.ts). */
  readonly filterKeyParts?: number;
  /** JSON-safe properties stored in the file and returned in its {@link SegmentInfo}. */
  readonly properties?: Readonly<Record<string, unknown>>;
}

function wholeOption(value: number | undefined, fallback: number, min: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, not ${String(value)}`);
  return value;
}

/**
 * The shortest string s with a ≤ s < b (a < b), to keep index keys short: a's prefix up
 * to the first differing byte, that byte plus one, when that stays below b; else a.
 */
function separator(a: string, b: string): string {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i < n && i + 1 < a.length) {
    const c = a.charCodeAt(i);
    if (c + 1 < b.charCodeAt(i)) return a.slice(0, i) + String.fromCharCode(c + 1);
  }
  return a;
}

/** Builds one segment file. Not reusable: `finish` once, then drop it. */
export class SegmentWriter {
  readonly #file: RandomAccessFile;
  readonly #fileNumber: number;
  readonly #blockBytes: number;
  readonly #restartInterval: number;
  readonly #filterKeyParts: number;
  readonly #properties: Readonly<Record<string, unknown>>;
  readonly #bloom: BloomBuilder;
  /** The data block being filled (entries only; the trailer is added on flush). */
  #block = new ByteBuffer(8192);
  #restarts: number[] = [];
  #sinceRestart = 0;
  #index = new ByteBuffer(4096);
  /** The last flushed block waits for the next key, to pick a short separator. */
  #pendingOffset = -1;
  #pendingSize = 0;
  /** Bytes of the file so far, appended or still in #out. */
  #written = 0;
  /** Finished blocks not yet appended: written in batches of about {@link WRITE_BATCH} bytes, not one call per block. */
  #out = new ByteBuffer(WRITE_BATCH + 8192);
  #count = 0;
  #firstKey = '';
  #lastKey = '';
  #lastFilterKey: string | undefined;
  #indexCount = 0;
  #finished = false;

  /**
   * @param file a new, empty file open for appending (the writer does not close it).
   * @param fileNumber the segment's number, stored in it and checked by the reader.
   */
  constructor(file: RandomAccessFile, fileNumber: number, options: SegmentWriterOptions = {}) {
    if (!Number.isSafeInteger(fileNumber) || fileNumber < 0) throw new InvalidArgumentError(`a segment number must be a non-negative integer, not ${String(fileNumber)}`);
    this.#file = file;
    this.#fileNumber = fileNumber;
    this.#blockBytes = wholeOption(options.blockBytes, DEFAULT_BLOCK_BYTES, 64, 'blockBytes');
    this.#restartInterval = wholeOption(options.restartInterval, DEFAULT_RESTART_INTERVAL, 1, 'restartInterval');
    this.#bloom = new BloomBuilder(wholeOption(options.bloomBitsPerKey, DEFAULT_BLOOM_BITS_PER_KEY, 0, 'bloomBitsPerKey'));
    this.#filterKeyParts = wholeOption(options.filterKeyParts, 0, 0, 'filterKeyParts');
    this.#properties = options.properties ?? {};
    // Caught here rather than at finish, when the entries are already written.
    try {
      JSON.stringify(this.#properties);
    } catch (error) {
      throw new InvalidArgumentError('segment properties must be JSON-safe', { cause: error });
    }
    if (file.size() !== 0) throw new InvalidArgumentError(`segment file ${file.name} is not empty`);
  }

  /** Entries added so far. */
  get count(): number {
    return this.#count;
  }

  /**
   * Bytes appended so far plus the pending block: what the file would be (callers split
   * outputs on it). Includes the index, filter and footer still to come.
   */
  get estimatedBytes(): number {
    const pending = this.#block.length === 0 ? 0 : this.#block.length + 4 * this.#restarts.length + 4 + BLOCK_CRC_BYTES;
    return this.#written + pending + this.#index.length + this.#bloom.estimatedBytes + FOOTER_BYTES;
  }

  /**
   * Adds an entry. The value's bytes are copied (the caller may reuse its buffer).
   * @throws InvalidArgumentError (from @koru/engine) when key is not strictly greater than the previous one
   */
  add(key: string, kind: EntryKind, value: Uint8Array): void {
    if (this.#finished) throw new InvalidArgumentError('this segment writer is finished (or failed to write)');
    if (this.#count > 0 && !(key > this.#lastKey)) throw new InvalidArgumentError('segment keys must be added in strictly ascending order', { details: { key, previous: this.#lastKey } });
    if (kind !== KIND_PUT && kind !== KIND_DELETE) throw new InvalidArgumentError(`unknown entry kind ${String(kind)}`);
    if (kind === KIND_DELETE && value.length !== 0) throw new InvalidArgumentError('a deletion marker has an empty value');

    const prev = this.#lastKey;
    let common = 0;
    const n = Math.min(prev.length, key.length);
    while (common < n && prev.charCodeAt(common) === key.charCodeAt(common)) common++;
    // Checked before anything changes; the common prefix was checked with the previous key.
    for (let i = common; i < key.length; i++) {
      if (key.charCodeAt(i) > 255) throw new InvalidArgumentError('a segment key must be a binary string (char codes 0–255)');
    }
    let shared = this.#sinceRestart < this.#restartInterval && this.#block.length > 0 ? common : 0;
    let size = entrySize(shared, key.length, value.length);
    // Start a new block rather than pass blockBytes; an entry too big for any block
    // gets one of its own.
    if (this.#block.length > 0 && this.#block.length + size + 4 * (this.#restarts.length + 2) > this.#blockBytes) {
      this.#flushBlock();
      shared = 0;
      size = entrySize(0, key.length, value.length);
    }
    if (this.#pendingOffset >= 0) this.#addIndexEntry(separator(prev, key));
    if (this.#block.length === 0 || this.#sinceRestart >= this.#restartInterval) {
      shared = 0;
      size = entrySize(0, key.length, value.length);
      this.#restarts.push(this.#block.length);
      this.#sinceRestart = 0;
    }

    const buf = this.#block;
    const out = buf.reserve(size);
    let at = putVarint(out, buf.length, shared);
    at = putVarint(out, at, key.length - shared);
    at = putVarint(out, at, value.length);
    out[at++] = kind;
    for (let i = shared; i < key.length; i++) out[at++] = key.charCodeAt(i);
    out.set(value, at);
    buf.length = at + value.length;

    this.#sinceRestart++;
    if (this.#count === 0) this.#firstKey = key;
    this.#count++;
    this.#lastKey = key;

    const filterKey = filterKeyOf(key, this.#filterKeyParts);
    if (filterKey !== undefined && filterKey !== this.#lastFilterKey) {
      this.#bloom.add(filterKey);
      this.#lastFilterKey = filterKey;
    }
    if (buf.length + 4 * (this.#restarts.length + 1) >= this.#blockBytes) this.#flushBlock();
  }

  /** Writes the last block, filter, index, properties and footer, then syncs the file (does not close it). */
  finish(): SegmentInfo {
    if (this.#finished) throw new InvalidArgumentError('this segment writer is finished (or failed to write)');
    this.#finished = true;
    if (this.#block.length > 0) this.#flushBlock();
    if (this.#pendingOffset >= 0) this.#addIndexEntry(this.#lastKey);
    const index = this.#index;
    index.u32(this.#indexCount);

    const tail = new ByteBuffer(index.length + this.#bloom.estimatedBytes + 1024);
    const filterOffset = this.#written;
    tail.append(this.#bloom.build());
    const filterSize = tail.length;
    tail.crcFrom(0);
    const indexOffset = filterOffset + tail.length;
    const indexStart = tail.length;
    tail.append(index.view());
    const indexSize = tail.length - indexStart;
    tail.crcFrom(indexStart);
    const propsOffset = filterOffset + tail.length;
    const propsStart = tail.length;
    const props = {
      formatVersion: FORMAT_VERSION,
      fileNumber: this.#fileNumber,
      count: this.#count,
      firstKey: this.#firstKey,
      lastKey: this.#lastKey,
      filterKeyParts: this.#filterKeyParts,
      properties: this.#properties,
    };
    tail.append(new TextEncoder().encode(JSON.stringify(props)));
    const propsSize = tail.length - propsStart;
    tail.crcFrom(propsStart);
    tail.append(encodeFooter({ indexOffset, indexSize, filterOffset, filterSize, propsOffset, propsSize }));
    this.#drain();
    this.#append(tail.view());
    this.#written += tail.length;
    this.#file.sync();
    // The stored copy, as a reader will see it (JSON drops what JSON cannot hold).
    const properties = JSON.parse(JSON.stringify(this.#properties)) as Record<string, unknown>;
    return { fileNumber: this.#fileNumber, bytes: this.#written, count: this.#count, firstKey: this.#firstKey, lastKey: this.#lastKey, properties };
  }

  #addIndexEntry(key: string): void {
    const index = this.#index;
    index.varint(key.length);
    index.binary(key);
    index.varint(this.#pendingOffset);
    index.varint(this.#pendingSize);
    this.#indexCount++;
    this.#pendingOffset = -1;
  }

  /** Appends to the file; after a failed append (device full…) the writer takes nothing more. */
  #append(bytes: Uint8Array): void {
    try {
      this.#file.append(bytes);
    } catch (error) {
      this.#finished = true;
      throw error;
    }
  }

  /** Appends the batched blocks to the file. */
  #drain(): void {
    if (this.#out.length === 0) return;
    this.#append(this.#out.view());
    this.#out.length = 0;
  }

  #flushBlock(): void {
    const buf = this.#block;
    const restarts = this.#restarts;
    const out = buf.reserve(4 * restarts.length + 4 + BLOCK_CRC_BYTES);
    let at = buf.length;
    for (const r of restarts) {
      putU32(out, at, r);
      at += 4;
    }
    putU32(out, at, restarts.length);
    at += 4;
    putU32(out, at, crc32(out, 0, 0, at));
    const stored = out.subarray(0, at + BLOCK_CRC_BYTES);
    if (this.#out.length + stored.length > WRITE_BATCH) this.#drain();
    // A block as big as a batch (a huge value) goes out as it is, not copied first.
    if (stored.length >= WRITE_BATCH) this.#append(stored);
    else this.#out.append(stored);
    this.#pendingOffset = this.#written;
    this.#pendingSize = at;
    this.#written += at + BLOCK_CRC_BYTES;
    // A block grown for one huge value is not kept around for the small ones after it.
    if (out.length > 4 * this.#blockBytes + 1024) this.#block = new ByteBuffer(2 * this.#blockBytes);
    else buf.length = 0;
    this.#restarts = [];
    this.#sinceRestart = 0;
  }
}

/** Bytes of finished blocks gathered before one append. */
const WRITE_BATCH = 64 * 1024;

function entrySize(shared: number, keyLength: number, valueLength: number): number {
  return varintSize(shared) + varintSize(keyLength - shared) + varintSize(valueLength) + 1 + (keyLength - shared) + valueLength;
}
