/**
 * The files of the OPFS directory (opfs-directory.ts): a pool slot (one pool file held
 * open with its sync access handle) and the {@link RandomAccessFile} over its content,
 * which starts after the slot's header.
 *
 * Appends to a segment file (`*.kseg`) are buffered (write-behind, up to
 * {@link WRITE_BEHIND_BYTES}) and written out by `sync`, `truncate`, `close`, any read
 * of the slot, or a full buffer. Every sync-access-handle call costs a fixed toll
 * (Chromium serves an off-the-record profile's OPFS from the browser process: each call
 * is a synchronous IPC of ~0.6 ms plus ~4 ms per MiB), and a flush or merge writes
 * megabytes of segments in 64 KiB appends. A segment counts only once synced (the
 * manifest names it after its writer synced it), so holding its appends in memory until
 * then changes nothing a crash can observe. Every other file (logs above all: a put is
 * acknowledged once its log append reached the file, as on Node) is written through.
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
  /**
   * Writes out the appends its open writer still buffers (see the module doc); set only
   * while it holds some. Whatever reads the slot's bytes calls it first.
   */
  writeOut?: (() => void) | undefined;
}

/** Files whose appends are buffered: segments (see the module doc). */
const WRITE_BEHIND = /\.kseg$/;
/** The most bytes a segment writer buffers before writing them out. */
export const WRITE_BEHIND_BYTES = 1024 * 1024;

/** An open file of the pool: reads and appends at its slot's content. */
export class OpfsFile implements RandomAccessFile {
  #closed = false;
  /** Write-behind (a writable segment): the buffer, allocated at the first append. */
  readonly #behind: boolean;
  #buf: Uint8Array | undefined;
  /** Bytes buffered: the last #pending bytes of the content are not written yet. */
  #pending = 0;

  constructor(
    readonly name: string,
    readonly slot: Slot,
    readonly writable: boolean,
    readonly dir: SlotOwner,
  ) {
    this.#behind = writable && WRITE_BEHIND.test(name);
  }

  size(): number {
    return this.slot.size;
  }

  read(offset: number, length: number): Uint8Array {
    this.#check();
    this.slot.writeOut?.();
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
    if (this.#behind) {
      const need = this.#pending + bytes.length;
      if (need > WRITE_BEHIND_BYTES) this.#writeOut();
      if (bytes.length < WRITE_BEHIND_BYTES) return this.#buffer(bytes);
    }
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
    this.#writeOut();
    try {
      this.slot.handle.flush();
    } catch (e) {
      throw storageError(`syncing ${this.dir.location}/${this.name}`, this.name, e);
    }
  }

  truncate(length: number): void {
    this.#check(true);
    this.#writeOut();
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
    try {
      // Unsynced segment bytes matter to no reader after a crash, but one reading the
      // file before then must find what size() said was appended.
      if (!this.slot.unlinked) this.#writeOut();
    } catch {
      // #writeOut cut the file back to what is written, and size() says so.
    }
    this.#closed = true;
    this.#pending = 0;
    this.#buf = undefined;
    if (this.slot.writeOut === this.#writeOut) this.slot.writeOut = undefined;
    this.dir.release(this.slot);
  }

  /** Copies `bytes` into the write-behind buffer (room checked by the caller); returns their offset. */
  #buffer(bytes: Uint8Array): number {
    const s = this.slot;
    const at = s.size;
    const need = this.#pending + bytes.length;
    let buf = this.#buf;
    if (buf === undefined || buf.length < need) {
      // Grown by doubling from 64 KiB: a small segment does not take the whole buffer.
      let size = Math.max(64 * 1024, buf?.length ?? 0);
      while (size < need) size *= 2;
      const grown = new Uint8Array(Math.min(size, WRITE_BEHIND_BYTES));
      if (buf !== undefined) grown.set(buf.subarray(0, this.#pending));
      buf = this.#buf = grown;
    }
    buf.set(bytes, this.#pending);
    this.#pending = need;
    s.size = at + bytes.length;
    s.raw = POOL_HEADER_BYTES + s.size;
    s.writeOut = this.#writeOut;
    return at;
  }

  /**
   * Writes the buffered appends (if any) to the pool file. On failure the file is cut
   * back to what was written before (size() says so) and the failure is thrown: to the
   * segment's writer, which drops the segment.
   */
  readonly #writeOut = (): void => {
    const n = this.#pending;
    if (n === 0) return;
    const s = this.slot;
    const at = s.size - n;
    this.#pending = 0;
    if (s.writeOut === this.#writeOut) s.writeOut = undefined;
    let written = 0;
    try {
      written = s.handle.write(this.#buf!.subarray(0, n), { at: POOL_HEADER_BYTES + at });
    } catch (e) {
      this.#lose(at);
      throw storageError(`appending ${n} bytes to ${this.dir.location}/${this.name}`, this.name, e);
    }
    if (written !== n) {
      this.#lose(at);
      throw shortWrite(`appending ${n} bytes to ${this.dir.location}/${this.name}`, this.name, written, n);
    }
  };

  /** The buffered bytes could not be written: the file ends at `at`, what it holds. */
  #lose(at: number): void {
    this.#cutBack(at);
    this.slot.size = at;
    this.slot.raw = POOL_HEADER_BYTES + at;
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
