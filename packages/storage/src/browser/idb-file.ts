/**
 * The in-memory files of the IndexedDB directory (idb-directory.ts): bytes that grow by
 * doubling, and which 64 KiB pages changed since the last persist.
 */
import { IoError } from '../errors.js';
import type { RandomAccessFile } from '../lsm/io.js';

/** Bytes per stored page: a persist writes only the pages a change touched. */
export const PAGE_BYTES = 64 * 1024;

/** One file as held in memory. */
export interface StoredFile {
  readonly name: string;
  /** Its id in IndexedDB (a replaced file gets a new one). */
  readonly id: number;
  bytes: Uint8Array;
  length: number;
  /** Pages written since the last persist. */
  readonly dirtyPages: Set<number>;
  /** The first page to delete from IndexedDB (a truncation since the last persist). */
  cutFrom: number | undefined;
}

/** An open file of the IndexedDB directory. */
export class IdbFile implements RandomAccessFile {
  #closed = false;
  constructor(
    readonly name: string,
    readonly stored: StoredFile,
    readonly writable: boolean,
    /** Called before every change (throws once the directory failed). */
    readonly touch: (f: StoredFile) => void,
  ) {}

  size(): number {
    return this.stored.length;
  }

  read(offset: number, length: number): Uint8Array {
    this.#check();
    const end = Math.min(this.stored.length, offset + length);
    return end <= offset ? new Uint8Array(0) : this.stored.bytes.slice(offset, end);
  }

  append(bytes: Uint8Array): number {
    this.#check(true);
    const s = this.stored;
    this.touch(s);
    const at = s.length;
    const end = at + bytes.length;
    if (end > s.bytes.length) {
      const grown = new Uint8Array(Math.max(end, s.bytes.length * 2, 4096));
      grown.set(s.bytes.subarray(0, at));
      s.bytes = grown;
    }
    s.bytes.set(bytes, at);
    s.length = end;
    if (end > at) for (let p = Math.floor(at / PAGE_BYTES); p <= Math.floor((end - 1) / PAGE_BYTES); p++) s.dirtyPages.add(p);
    return at;
  }

  /** Nothing here: the directory's persist (awaited before acknowledging) makes writes durable. */
  sync(): void {
    this.#check();
  }

  truncate(length: number): void {
    this.#check(true);
    const s = this.stored;
    if (length >= s.length) return;
    this.touch(s);
    s.length = length;
    const keep = Math.ceil(length / PAGE_BYTES);
    s.cutFrom = Math.min(s.cutFrom ?? keep, keep);
    // The last kept page got shorter: it is written again.
    if (length % PAGE_BYTES !== 0) s.dirtyPages.add(keep - 1);
  }

  close(): void {
    this.#closed = true;
  }

  #check(write = false): void {
    if (this.#closed) throw new IoError(`${this.name} is closed`, undefined, { file: this.name });
    if (write && !this.writable) throw new IoError(`${this.name} is open for reading only`, undefined, { file: this.name });
  }
}
