/**
 * The engine's I/O boundary: a directory of files read at offsets and appended to.
 * Everything the engine persists goes through these two interfaces, so the same engine
 * runs on Node (`@koru/storage/node`: node:fs) and in a browser (an OPFS backend with
 * synchronous access handles, in a dedicated worker). Both are synchronous on purpose:
 * node:fs's *Sync calls and OPFS's sync access handles are, and a read that never
 * yields cannot see a half-applied manifest swap.
 *
 * Failures throw KoruErrors: STORAGE_FULL when the device is full, IO_ERROR otherwise.
 */

/** One open file. Not shared between threads: each thread opens its own. */
export interface RandomAccessFile {
  /** The file's name in its directory. */
  readonly name: string;
  /** Current length in bytes (appends included, synced or not). */
  size(): number;
  /**
   * Reads `length` bytes at `offset`. Returns fewer only when the file ends first
   * (callers that need all of them treat a short read as damage).
   */
  read(offset: number, length: number): Uint8Array;
  /**
   * Reads up to `target.length` bytes at `offset` into `target` and returns how many it
   * read (fewer only when the file ends first). Optional: a long sequential reader (a
   * merge) reuses one buffer through it instead of allocating one per read.
   */
  readInto?(offset: number, target: Uint8Array): number;
  /** Appends `bytes` (all of them, or throws) and returns the offset they start at. */
  append(bytes: Uint8Array): number;
  /** Makes everything appended so far durable (fdatasync / flush). */
  sync(): void;
  /** Cuts the file to `length` bytes (only used to drop a torn tail). */
  truncate(length: number): void;
  /** Releases the handle. Idempotent. */
  close(): void;
}

/** How a file is opened. */
export type OpenMode =
  /** Existing file, reads only. */
  | 'read'
  /** Existing file, reads and appends. */
  | 'append'
  /** A new, empty file; fails if one of that name exists. */
  | 'create';

/** A flat directory of files (no subdirectories). */
export interface StorageDirectory {
  /** Where it is, for messages (a path on Node, an OPFS path in a browser). */
  readonly location: string;
  /** Opens a file. @throws IO_ERROR (with `details.code: 'ENOENT'` for a missing file) */
  open(name: string, mode: OpenMode): RandomAccessFile;
  /** The names of the files in it, sorted. */
  list(): string[];
  exists(name: string): boolean;
  /** Removes a file; a missing one is not an error. */
  remove(name: string): void;
  /**
   * Removes a file without waiting for it: freeing a large file can take the file system
   * tens of milliseconds per hundred megabytes, which must not stall the thread that
   * serves reads. Only for files nothing will read again and whose survival after a crash
   * is harmless (the engine deletes such leftovers when it opens). Optional: without it
   * the engine calls {@link remove}.
   */
  removeLater?(name: string): void;
  /**
   * Replaces (or creates) `name` with exactly `bytes`, atomically and durably: after a
   * crash at any moment the file holds the old bytes or the new ones, never a mix or
   * nothing (write a temporary file, sync it, rename over, sync the directory).
   */
  writeAtomic(name: string, bytes: Uint8Array): void;
  /** The whole content of a file, or undefined when it does not exist. */
  readAll(name: string): Uint8Array | undefined;
  /** Makes creations, renames and removals in the directory durable. */
  syncDirectory(): void;
}
