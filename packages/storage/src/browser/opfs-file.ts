/**
 * The files of the OPFS directory (opfs-directory.ts): a pool slot (one pool file held
 * open with its sync access handle) and the {@link RandomAccessFile} over its content,
 * which starts after the slot's header.
 */
import { IoError } from '../errors.js';
import type { RandomAccessFile } from '../lsm/io.js';
import { shortWrite, storageError, type SyncAccessHandle } from './opfs-handles.js';
import { POOL_HEADER_BYTES } from './pool-header.js';

/** What an open file needs of its directory. */
export interface SlotOwner {
  readonly location: string;
  /** A file let go of `slot` (an unlinked slot is freed at its last close). */
  release(slot: Slot): void;
  /** Throws once the directory is closed. */
  checkOpen(): void;
}

/** One pool file of the directory. */
export interface Slot {
  readonly fileName: string;
  readonly handle: SyncAccessHandle;
  /** The logical file it holds (undefined: free, or unlinked). */
  name: string | undefined;
  /** Bytes of content (after the header). */
  size: number;
  /** Bytes of the pool file itself (0 after a free's truncation). */
  raw: number;
  /** Open {@link RandomAccessFile}s on it. */
  refs: number;
  /** Removed or replaced while open: freed at the last close. */
  unlinked: boolean;
}

/** An open file of the pool: reads and appends at its slot's content. */
export class OpfsFile implements RandomAccessFile {
  #closed = false;
  constructor(
    readonly name: string,
    readonly slot: Slot,
    readonly writable: boolean,
    readonly dir: SlotOwner,
  ) {}

  size(): number {
    return this.slot.size;
  }

  read(offset: number, length: number): Uint8Array {
    this.#check();
    const end = Math.min(this.slot.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    const buf = new Uint8Array(end - offset);
    let n: number;
    try {
      n = this.slot.handle.read(buf, { at: POOL_HEADER_BYTES + offset });
    } catch (e) {
      throw storageError(`reading ${this.dir.location}/${this.name}`, this.name, e);
    }
    return n === buf.length ? buf : buf.subarray(0, n);
  }

  append(bytes: Uint8Array): number {
    this.#check(true);
    const s = this.slot;
    const at = s.size;
    let n = 0;
    try {
      n = s.handle.write(bytes, { at: POOL_HEADER_BYTES + at });
    } catch (e) {
      this.#cutBack(at);
      throw storageError(`appending ${bytes.length} bytes to ${this.dir.location}/${this.name}`, this.name, e);
    }
    if (n !== bytes.length) {
      this.#cutBack(at);
      throw shortWrite(`appending ${bytes.length} bytes to ${this.dir.location}/${this.name}`, this.name, n, bytes.length);
    }
    s.size = at + n;
    s.raw = POOL_HEADER_BYTES + s.size;
    return at;
  }

  sync(): void {
    this.#check();
    try {
      this.slot.handle.flush();
    } catch (e) {
      throw storageError(`syncing ${this.dir.location}/${this.name}`, this.name, e);
    }
  }

  truncate(length: number): void {
    this.#check(true);
    const s = this.slot;
    if (length >= s.size) return;
    try {
      s.handle.truncate(POOL_HEADER_BYTES + length);
    } catch (e) {
      throw storageError(`truncating ${this.dir.location}/${this.name}`, this.name, e);
    }
    s.size = length;
    s.raw = POOL_HEADER_BYTES + length;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.dir.release(this.slot);
  }

  /** A failed append leaves nothing: what it may have written is cut (best effort; the caller cuts again). */
  #cutBack(at: number): void {
    try {
      this.slot.handle.truncate(POOL_HEADER_BYTES + at);
    } catch {
      // The engine truncates to the same point after a failed append and reports that failure.
    }
  }

  #check(write = false): void {
    if (this.#closed) throw new IoError(`${this.dir.location}/${this.name} is closed`, undefined, { file: this.name });
    this.dir.checkOpen();
    if (write && !this.writable) throw new IoError(`${this.dir.location}/${this.name} is open for reading only`, undefined, { file: this.name });
  }
}
