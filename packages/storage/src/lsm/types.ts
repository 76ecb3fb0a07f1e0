/**
 * The shapes shared by the parts of the log-structured engine (write-ahead log,
 * memtable, segments, manifest, merges).
 *
 * Keys are *binary strings*: every char code is one byte (0–255). JavaScript compares
 * such strings by code unit, which is byte order, natively and fast, and Maps hash them;
 * files store the bytes themselves. Values are bytes.
 */

/** Kind of an entry: a value, or a deletion marker that hides older values of its key. */
export const KIND_PUT = 0;
export const KIND_DELETE = 1;
export type EntryKind = typeof KIND_PUT | typeof KIND_DELETE;

/** One key/value entry. */
export interface Entry {
  /** Binary string (see module doc). */
  readonly key: string;
  readonly kind: EntryKind;
  /** Empty for a deletion marker. */
  readonly value: Uint8Array;
}

/** The newest entry found for a key, if any (a deletion marker means "no value"). */
export interface Found {
  readonly kind: EntryKind;
  readonly value: Uint8Array;
}

/**
 * An ascending cursor over sorted entries. Valid until the source changes (a memtable
 * write, a closed segment): use it synchronously.
 */
export interface EntryCursor {
  /** True while positioned on an entry. */
  valid(): boolean;
  /** The entry's key, kind and value (only while `valid()`). */
  key(): string;
  kind(): EntryKind;
  value(): Uint8Array;
  /** Moves to the next entry (may become invalid). */
  next(): void;
  /** Positions on the first entry whose key is ≥ `key`. */
  seek(key: string): void;
  /** Positions on the first entry. */
  seekToFirst(): void;
}

/**
 * A cache of verified, raw blocks shared by every open segment, bounded in bytes
 * (least recently used out first).
 */
export interface BlockCache {
  get(fileNumber: number, offset: number): Uint8Array | undefined;
  set(fileNumber: number, offset: number, block: Uint8Array): void;
  /** Forgets a file's blocks (the file was deleted). */
  evictFile(fileNumber: number): void;
  /** Bytes held now, and the most it holds. */
  readonly bytes: number;
  readonly budget: number;
}

/** What a segment holds, written in its properties block and copied into the manifest. */
export interface SegmentInfo {
  /** Its number; the file is named {@link segmentFileName}(fileNumber). */
  readonly fileNumber: number;
  /** Bytes of the whole file. */
  readonly bytes: number;
  /** Entries in it. */
  readonly count: number;
  /** Its smallest and largest key (binary strings); empty strings for an empty segment. */
  readonly firstKey: string;
  readonly lastKey: string;
  /** Properties the writer was given (JSON-safe), e.g. the version store's seq range. */
  readonly properties: Readonly<Record<string, unknown>>;
}

/** Name of segment file number `n`: zero-padded so names sort by number. */
export function segmentFileName(n: number): string {
  return `${String(n).padStart(8, '0')}.kseg`;
}

/** Name of write-ahead log file number `n`. */
export function walFileName(n: number): string {
  return `${String(n).padStart(8, '0')}.kwal`;
}

/** Name of the manifest file (replaced atomically, never edited in place). */
export const MANIFEST_FILE = 'MANIFEST';

/** Converts a binary string to its bytes. */
export function keyBytes(key: string): Uint8Array {
  const out = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) out[i] = key.charCodeAt(i);
  return out;
}

/** Converts bytes to a binary string. */
export function bytesKey(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let s = '';
  // fromCharCode over chunks: one call per 4 KiB, not per byte.
  for (let i = start; i < end; i += 4096) s += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  return s;
}
