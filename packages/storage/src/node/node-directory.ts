/**
 * The engine's {@link StorageDirectory} on the local file system (node:fs, synchronous
 * calls). File writes, syncs, renames and removals go through {@link FileOps} so tests can
 * make the disk fail (ENOSPC, EIO) at a chosen moment.
 */
import { InvalidArgumentError } from '@koru/engine';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { IoError, StorageFullError } from '../errors.js';
import { useCrc32 } from '../lsm/checksum.js';
import type { OpenMode, RandomAccessFile, StorageDirectory } from '../lsm/io.js';
import { fsyncDir, nodeFileOps, readFully, writeFully, type FileOps } from './fs-ops.js';

/** Suffix of the temporary file {@link NodeDirectory.writeAtomic} writes before its rename. */
export const TEMP_SUFFIX = '.tmp';

/**
 * The KoruError for a failed call: STORAGE_FULL for a full device or quota, IO_ERROR
 * (carrying the errno `code` and the file's name) for anything else.
 */
function ioError(location: string, file: string, what: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const where = file === '' ? location : `${location}/${file}`;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new StorageFullError(`${what} ${where}: the disk is full (${code}); nothing was stored`, e);
  }
  return new IoError(`${what} ${where}: ${(e as Error | undefined)?.message ?? String(e)}`, e, { code, file });
}

/**
 * Node's open flags per mode. 'append' is 'r+' and not 'a': with O_APPEND, Linux ignores
 * the position of pwrite, and we track the end ourselves. 'create' is 'wx+' ('wx', which
 * fails when the file exists, plus reads, which every RandomAccessFile offers).
 */
const FLAGS: Readonly<Record<OpenMode, string>> = { read: 'r', append: 'r+', create: 'wx+' };

/** An open file: one descriptor, positional reads and writes. */
class NodeFile implements RandomAccessFile {
  #fd: number;
  /** Our own count of the length (writable handles only): no fstat per append. */
  #size: number;

  constructor(
    readonly name: string,
    private readonly location: string,
    private readonly ops: FileOps,
    fd: number,
    size: number,
    private readonly writable: boolean,
  ) {
    this.#fd = fd;
    this.#size = size;
  }

  size(): number {
    const fd = this.#open('cannot get the size of');
    // A read-only handle may watch a file another handle appends to, so it asks the OS;
    // a writable handle is the file's only writer and knows.
    if (this.writable) return this.#size;
    try {
      return this.ops.fstatSync(fd).size;
    } catch (e) {
      throw ioError(this.location, this.name, 'cannot stat', e);
    }
  }

  read(offset: number, length: number): Uint8Array {
    const fd = this.#open('cannot read');
    checkRange(offset, 'offset');
    checkRange(length, 'length');
    // Unpooled and uninitialised (readFully fills it); a plain Uint8Array view, so that
    // callers' .slice() copies as the standard says (Buffer's slice would not).
    const buf = Buffer.allocUnsafeSlow(length);
    let n: number;
    try {
      n = readFully(this.ops, fd, buf, length, offset);
    } catch (e) {
      throw ioError(this.location, this.name, 'cannot read', e);
    }
    // Short only at the end of the file; zero the rest so no stale memory stays reachable.
    if (n < length) buf.fill(0, n);
    return new Uint8Array(buf.buffer, buf.byteOffset, n);
  }

  readInto(offset: number, target: Uint8Array): number {
    const fd = this.#open('cannot read');
    checkRange(offset, 'offset');
    try {
      return readFully(this.ops, fd, target, target.length, offset);
    } catch (e) {
      throw ioError(this.location, this.name, 'cannot read', e);
    }
  }

  append(bytes: Uint8Array): number {
    const fd = this.#writableFd('cannot append to');
    const at = this.#size;
    try {
      writeFully(this.ops, fd, bytes, bytes.length, at);
    } catch (e) {
      // Part of the bytes may be on disk: cut them off (best effort) so the file stays what
      // it was. Should that fail too, the next append still writes at `at`, over them.
      try {
        this.ops.ftruncateSync(fd, at);
      } catch {
        // The first failure is the one to report.
      }
      throw ioError(this.location, this.name, 'cannot append to', e);
    }
    this.#size = at + bytes.length;
    return at;
  }

  sync(): void {
    const fd = this.#open('cannot sync');
    try {
      this.ops.fdatasyncSync(fd);
    } catch (e) {
      throw ioError(this.location, this.name, 'cannot sync', e);
    }
  }

  /** Cuts the file to `length`; a length at or past the end leaves it as it is (never extends). */
  truncate(length: number): void {
    const fd = this.#writableFd('cannot truncate');
    checkRange(length, 'length');
    if (length >= this.#size) return;
    try {
      this.ops.ftruncateSync(fd, length);
    } catch (e) {
      throw ioError(this.location, this.name, 'cannot truncate', e);
    }
    this.#size = length;
  }

  close(): void {
    const fd = this.#fd;
    if (fd < 0) return;
    this.#fd = -1;
    try {
      this.ops.closeSync(fd);
    } catch (e) {
      throw ioError(this.location, this.name, 'cannot close', e);
    }
  }

  #open(what: string): number {
    if (this.#fd < 0) throw new IoError(`${what} ${this.location}/${this.name}: the file is closed`, undefined, { file: this.name });
    return this.#fd;
  }

  #writableFd(what: string): number {
    const fd = this.#open(what);
    if (!this.writable) throw new IoError(`${what} ${this.location}/${this.name}: open for reading only`, undefined, { file: this.name });
    return fd;
  }
}

/** Closes a descriptor on an error path, where the first failure is the one to report. */
function closeQuietly(ops: FileOps, fd: number): void {
  try {
    ops.closeSync(fd);
  } catch {
    // Already failing: the caller reports the first error, not this one.
  }
}

function checkRange(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`${what} must be a non-negative integer, not ${n}`);
}

/**
 * A directory on the local file system. It must exist (the opener creates it and holds
 * its lock); this class never creates or deletes directories.
 */
/**
 * Makes node:zlib's CRC-32 the engine's checksum for the whole process (identical results,
 * several times faster than the plain-JavaScript one). Every `NodeDirectory` does this;
 * the Node entry of `@koru/delta` calls it at load, so in-memory databases (a
 * `MemoryDirectory`, whose every log append and block is checked too) get it as well.
 */
export function installNodeChecksum(): void {
  useCrc32(zlibCrc32);
}

export class NodeDirectory implements StorageDirectory {
  readonly location: string;
  readonly #ops: FileOps;

  /** @param path the directory; @param ops file operations (node:fs unless a test injects faults) */
  constructor(path: string, ops: FileOps = nodeFileOps) {
    this.location = path;
    this.#ops = ops;
    // Every block read is checked: on Node, zlib's CRC-32 is several times faster than
    // the plain-JavaScript one and gives the same results.
    installNodeChecksum();
  }

  /**
   * 'read' and 'append' never create; 'create' fails (IO_ERROR, `details.code: 'EEXIST'`)
   * when the file exists.
   */
  open(name: string, mode: OpenMode): RandomAccessFile {
    const path = this.#path(name);
    const flags = FLAGS[mode];
    if (flags === undefined) throw new InvalidArgumentError(`unknown open mode ${String(mode)}`);
    let fd: number;
    try {
      fd = this.#ops.openSync(path, flags);
    } catch (e) {
      throw ioError(this.location, name, 'cannot open', e);
    }
    let size = 0;
    try {
      // One fstat at open; writable handles count from here on.
      if (mode !== 'create') size = this.#ops.fstatSync(fd).size;
    } catch (e) {
      closeQuietly(this.#ops, fd);
      throw ioError(this.location, name, 'cannot stat', e);
    }
    return new NodeFile(name, this.location, this.#ops, fd, size, mode !== 'read');
  }

  /**
   * The names of every entry but subdirectories, sorted as JavaScript sorts strings (by
   * UTF-16 code unit, as MemoryDirectory does; libuv's own order is by UTF-8 byte, which
   * differs outside ASCII). Leftovers of an interrupted {@link writeAtomic} (`name.tmp`) are listed
   * too: what to do with a file is the engine's decision, not this layer's.
   */
  list(): string[] {
    try {
      const names: string[] = [];
      for (const d of fs.readdirSync(this.location, { withFileTypes: true })) if (!d.isDirectory()) names.push(d.name);
      return names.sort();
    } catch (e) {
      throw ioError(this.location, '', 'cannot list', e);
    }
  }

  exists(name: string): boolean {
    try {
      return fs.statSync(this.#path(name), { throwIfNoEntry: false }) !== undefined;
    } catch (e) {
      throw ioError(this.location, name, 'cannot stat', e);
    }
  }

  remove(name: string): void {
    try {
      this.#ops.unlinkSync(this.#path(name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw ioError(this.location, name, 'cannot remove', e);
    }
  }

  /**
   * Unlinks on libuv's thread pool (ext4 mounted with `discard` takes ~0.25 ms per MB to
   * free a file). A failure is ignored: the file is a leftover the engine removes at its
   * next open.
   */
  removeLater(name: string): void {
    fs.unlink(this.#path(name), () => {});
  }

  /**
   * Writes `name.tmp` (truncated first), fsyncs it, renames it over `name` and fsyncs the
   * directory. A failure before the rename leaves `name` as it was and removes the
   * temporary file (best effort); a crash may leave `name.tmp` behind, never a mixed `name`.
   */
  writeAtomic(name: string, bytes: Uint8Array): void {
    const path = this.#path(name);
    const tmp = path + TEMP_SUFFIX;
    const ops = this.#ops;
    let step = 'cannot write';
    let fd = -1;
    try {
      fd = ops.openSync(tmp, 'w');
      writeFully(ops, fd, bytes, bytes.length, 0);
      step = 'cannot sync';
      ops.fsyncSync(fd);
      step = 'cannot close';
      const closing = fd;
      fd = -1;
      ops.closeSync(closing);
      step = 'cannot rename over';
      ops.renameSync(tmp, path);
    } catch (e) {
      if (fd >= 0) closeQuietly(ops, fd);
      try {
        ops.unlinkSync(tmp);
      } catch {
        // Left behind; the engine's listing sees it and may remove it later.
      }
      throw ioError(this.location, name, step, e);
    }
    fsyncDir(this.location);
  }

  readAll(name: string): Uint8Array | undefined {
    const ops = this.#ops;
    let fd: number;
    try {
      fd = ops.openSync(this.#path(name), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw ioError(this.location, name, 'cannot open', e);
    }
    try {
      const size = ops.fstatSync(fd).size;
      const buf = Buffer.allocUnsafeSlow(size);
      // A file cut meanwhile reads short: return what was there, never stale memory.
      const n = readFully(ops, fd, buf, size, 0);
      if (n < size) buf.fill(0, n);
      return new Uint8Array(buf.buffer, buf.byteOffset, n);
    } catch (e) {
      throw ioError(this.location, name, 'cannot read', e);
    } finally {
      closeQuietly(ops, fd);
    }
  }

  /**
   * fsyncs the directory. Platforms that cannot fsync a directory (Windows) skip it; their
   * renames are atomic all the same.
   */
  syncDirectory(): void {
    fsyncDir(this.location);
  }

  /** The path of `name`, which must be a plain file name (no separators, not `.`/`..`). */
  #path(name: string): string {
    if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
      throw new InvalidArgumentError(`${JSON.stringify(name)} is not a plain file name`);
    }
    return join(this.location, name);
  }
}
