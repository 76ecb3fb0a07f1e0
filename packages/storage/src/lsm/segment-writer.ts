/**
 * Writes one segment file (format in segment-format.ts) from entries given in strictly
 * ascending key order: data blocks as they fill, then the index partitions, the filter
 * partitions, the top index, the properties and the footer. Index and filter partitions
 * are built as the data blocks they cover are written, and kept in memory until the end
 * (a few percent of the data) so that the data blocks stay one contiguous run. The file
 * is only appended to, so a writer that dies midway leaves a file without a valid
 * footer, which no reader accepts.
 */
import { InvalidArgumentError } from '@koru/engine';
import { BloomBuilder } from './bloom.js';
import { crc32 } from './checksum.js';
import type { RandomAccessFile } from './io.js';
import { IndexPartitionBuilder } from './segment-index.js';
import { BLOCK_CRC_BYTES, ByteBuffer, DEFAULT_BLOCK_BYTES, DEFAULT_BLOOM_BITS_PER_KEY, DEFAULT_RESTART_INTERVAL, encodeFooter, filterKeyOf, FOOTER_BYTES, FORMAT_VERSION } from './segment-format.js';
import { putU32, putVarint, varintSize } from './bytes.js';
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
  /**
   * Sync the file each time this many bytes were appended since the last sync (default
   * 0: only when finished). Merges set it (see tree-merges.ts): one that writes 32 MiB
   * and then syncs once leaves the kernel one burst of writeback, and the write-ahead
   * log's syncs on the same disk wait behind it: RocksDB's `bytes_per_sync`.
   */
  readonly syncEveryBytes?: number;
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
  readonly #syncEveryBytes: number;
  /** Bytes appended since the last sync. */
  #unsynced = 0;
  readonly #bloom: BloomBuilder;
  /** The data block being filled (entries only; the trailer is added on flush). */
  #block = new ByteBuffer(8192);
  #restarts: number[] = [];
  #sinceRestart = 0;
  /** The index partition being filled, and the finished ones (each with its CRC). */
  readonly #partition: IndexPartitionBuilder;
  #indexParts = new ByteBuffer(16 * 1024);
  /** The finished filter partitions (each with its CRC; none when bloomBitsPerKey = 0). */
  #filterParts = new ByteBuffer(4 * 1024);
  /** The top index so far: each finished partition's last separator, and its numbers. */
  readonly #topKeys: string[] = [];
  /** Per partition: data start, index partition at, its size, filter partition at, its size. */
  readonly #topNumbers: number[] = [];
  /** About the bytes the top index will take (for the size estimate). */
  #topBytes = 4 + BLOCK_CRC_BYTES;
  /** Where the data of the partition being filled starts. */
  #partitionStart = 0;
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
  /** The last filter key added to the current filter partition. */
  #lastFilterKey: string | undefined;
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
    this.#partition = new IndexPartitionBuilder(this.#restartInterval);
    this.#bloom = new BloomBuilder(wholeOption(options.bloomBitsPerKey, DEFAULT_BLOOM_BITS_PER_KEY, 0, 'bloomBitsPerKey'));
    this.#filterKeyParts = wholeOption(options.filterKeyParts, 0, 0, 'filterKeyParts');
    this.#properties = options.properties ?? {};
    this.#syncEveryBytes = wholeOption(options.syncEveryBytes, DEFAULT_SYNC_EVERY_BYTES, 0, 'syncEveryBytes');
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
   * outputs on it). Includes the index and filter partitions, the top index and the
   * footer still to come (not the properties).
   */
  get estimatedBytes(): number {
    const pending = this.#block.length === 0 ? 0 : this.#block.length + 4 * this.#restarts.length + 4 + BLOCK_CRC_BYTES;
    const partition = this.#partition.count === 0 ? 0 : this.#partition.size + this.#bloom.estimatedBytes + 2 * BLOCK_CRC_BYTES;
    return this.#written + pending + this.#indexParts.length + this.#filterParts.length + partition + this.#topBytes + FOOTER_BYTES;
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

  /** Writes the last block, the index and filter partitions, the top index, properties and footer, then syncs the file (does not close it). */
  finish(): SegmentInfo {
    if (this.#finished) throw new InvalidArgumentError('this segment writer is finished (or failed to write)');
    this.#finished = true;
    if (this.#block.length > 0) this.#flushBlock();
    if (this.#pendingOffset >= 0) this.#addIndexEntry(this.#lastKey);
    if (this.#partition.count > 0) this.#finishPartition(this.#lastKey);

    // The partitions' places were kept relative to their buffers: now they are known.
    const indexStart = this.#written;
    const filterStart = indexStart + this.#indexParts.length;
    const topOffset = filterStart + this.#filterParts.length;
    const top = new ByteBuffer(this.#topBytes + 1024);
    const numbers = this.#topNumbers;
    for (let p = 0; p < this.#topKeys.length; p++) {
      const key = this.#topKeys[p]!;
      top.varint(key.length);
      top.binary(key);
      top.varint(numbers[5 * p]!);
      top.varint(indexStart + numbers[5 * p + 1]!);
      top.varint(numbers[5 * p + 2]!);
      top.varint(filterStart + numbers[5 * p + 3]!);
      top.varint(numbers[5 * p + 4]!);
    }
    top.u32(this.#topKeys.length);
    const topSize = top.length;
    top.crcFrom(0);
    const propsOffset = topOffset + top.length;
    const propsStart = top.length;
    const props = {
      formatVersion: FORMAT_VERSION,
      fileNumber: this.#fileNumber,
      count: this.#count,
      firstKey: this.#firstKey,
      lastKey: this.#lastKey,
      filterKeyParts: this.#filterKeyParts,
      properties: this.#properties,
    };
    top.append(new TextEncoder().encode(JSON.stringify(props)));
    const propsSize = top.length - propsStart;
    top.crcFrom(propsStart);
    top.append(encodeFooter({ topIndexOffset: topOffset, topIndexSize: topSize, propsOffset, propsSize }));
    this.#drain();
    if (this.#indexParts.length > 0) this.#append(this.#indexParts.view());
    if (this.#filterParts.length > 0) this.#append(this.#filterParts.view());
    this.#append(top.view());
    this.#written = topOffset + top.length;
    this.#file.sync();
    // The stored copy, as a reader will see it (JSON drops what JSON cannot hold).
    const properties = JSON.parse(JSON.stringify(this.#properties)) as Record<string, unknown>;
    return { fileNumber: this.#fileNumber, bytes: this.#written, count: this.#count, firstKey: this.#firstKey, lastKey: this.#lastKey, properties };
  }

  /** Adds the pending block's index entry; a partition that reached blockBytes ends there. */
  #addIndexEntry(key: string): void {
    this.#partition.add(key, this.#pendingOffset, this.#pendingSize);
    this.#pendingOffset = -1;
    if (this.#partition.size >= this.#blockBytes) this.#finishPartition(key);
  }

  /**
   * Ends the index partition (whose last separator is `key`) and its filter partition,
   * which holds the filter keys of exactly its data blocks: a partition ends when its
   * last block's separator is known, before the next block's first key is added.
   */
  #finishPartition(key: string): void {
    const indexAt = this.#indexParts.length;
    const indexSize = this.#partition.finishInto(this.#indexParts);
    const filterAt = this.#filterParts.length;
    const filter = this.#bloom.build();
    if (filter.length > 0) {
      this.#filterParts.append(filter);
      this.#filterParts.crcFrom(filterAt);
    }
    this.#topKeys.push(key);
    this.#topNumbers.push(this.#partitionStart, indexAt, indexSize, filterAt, filter.length);
    // For the size estimate: about what the entry will take in the top index.
    this.#topBytes += key.length + 12;
    this.#partitionStart = this.#written;
    this.#bloom.reset();
    // A filter key whose entries go on into the next partition is in its filter too.
    this.#lastFilterKey = undefined;
  }

  /** Appends to the file; after a failed append (device full…) the writer takes nothing more. */
  #append(bytes: Uint8Array): void {
    try {
      this.#file.append(bytes);
      this.#unsynced += bytes.length;
      if (this.#syncEveryBytes > 0 && this.#unsynced >= this.#syncEveryBytes) {
        this.#file.sync();
        this.#unsynced = 0;
      }
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

/** See {@link SegmentWriterOptions.syncEveryBytes}. */
const DEFAULT_SYNC_EVERY_BYTES = 0;

function entrySize(shared: number, keyLength: number, valueLength: number): number {
  return varintSize(shared) + varintSize(keyLength - shared) + varintSize(valueLength) + 1 + (keyLength - shared) + valueLength;
}
