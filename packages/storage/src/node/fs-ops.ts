/**
 * The file operations the durable adapter uses, injectable so tests can make the
 * disk fail (ENOSPC, EIO) at a chosen moment. Defaults to node:fs.
 */
import * as fs from 'node:fs';

/** Synchronous file operations: a subset of node:fs. */
export interface FileOps {
  openSync(path: string, flags: string): number;
  closeSync(fd: number): void;
  writeSync(fd: number, buf: Uint8Array, offset: number, length: number, position: number): number;
  readSync(fd: number, buf: Uint8Array, offset: number, length: number, position: number): number;
  fdatasyncSync(fd: number): void;
  /** fdatasync on libuv's thread pool; optional (injected test ops may leave it out: syncs then block). */
  fdatasync?(fd: number, done: (error: NodeJS.ErrnoException | null) => void): void;
  fsyncSync(fd: number): void;
  ftruncateSync(fd: number, len: number): void;
  fstatSync(fd: number): { size: number };
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
}

/** node:fs itself. */
export const nodeFileOps: FileOps = {
  openSync: (p, f) => fs.openSync(p, f),
  closeSync: (fd) => fs.closeSync(fd),
  writeSync: (fd, b, o, l, p) => fs.writeSync(fd, b, o, l, p),
  readSync: (fd, b, o, l, p) => fs.readSync(fd, b, o, l, p),
  fdatasyncSync: (fd) => fs.fdatasyncSync(fd),
  fdatasync: (fd, done) => fs.fdatasync(fd, done),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  ftruncateSync: (fd, l) => fs.ftruncateSync(fd, l),
  fstatSync: (fd) => fs.fstatSync(fd),
  renameSync: (a, b) => fs.renameSync(a, b),
  unlinkSync: (p) => fs.unlinkSync(p),
};

/** Writes all of `buf` at `position`, looping over short writes. */
export function writeFully(ops: FileOps, fd: number, buf: Uint8Array, length: number, position: number): void {
  let done = 0;
  while (done < length) done += ops.writeSync(fd, buf, done, length - done, position + done);
}

/** Reads exactly `length` bytes at `position`; returns how many were available. */
export function readFully(ops: FileOps, fd: number, buf: Uint8Array, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = ops.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** fsyncs a directory so a rename or a new file in it survives power loss. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync directories; the rename is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
