// Test directories for the LSM engine's files: a wrapper over MemoryDirectory that calls
// a hook before and after every mutating operation (so a test can take a power-loss image
// at any point, an in-flight append included) and can make operations fail; and a small
// StorageDirectory over node:fs for tests on a real directory.
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, fsyncSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, writeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { IoError, StorageFullError } from '../src/errors.js';
import type { OpenMode, RandomAccessFile, StorageDirectory } from '../src/lsm/io.js';
import { MemoryDirectory } from '../src/lsm/memory-directory.js';

/** The operations a {@link HookedDirectory} reports. */
export type Op = 'open' | 'remove' | 'writeAtomic' | 'syncDirectory' | 'append' | 'sync' | 'truncate';

/** Hooks of a {@link HookedDirectory}. */
export interface Hooks {
  /** Called before and after each mutating operation. */
  at?: (op: Op, name: string, phase: 'before' | 'after') => void;
  /** When true for an append, half the bytes are written and STORAGE_FULL is thrown; for a sync or truncate, IO_ERROR. */
  fail?: (op: Op, name: string) => boolean;
}

class HookedFile implements RandomAccessFile {
  constructor(
    readonly inner: RandomAccessFile,
    readonly hooks: Hooks,
  ) {}
  get name(): string {
    return this.inner.name;
  }
  size(): number {
    return this.inner.size();
  }
  read(offset: number, length: number): Uint8Array {
    return this.inner.read(offset, length);
  }
  #run<T>(op: Op, f: () => T): T {
    this.hooks.at?.(op, this.name, 'before');
    const r = f();
    this.hooks.at?.(op, this.name, 'after');
    return r;
  }
  append(bytes: Uint8Array): number {
    if (this.hooks.fail?.('append', this.name)) {
      this.inner.append(bytes.subarray(0, bytes.length >> 1));
      throw new StorageFullError(`no space left for ${this.name}`);
    }
    return this.#run('append', () => this.inner.append(bytes));
  }
  sync(): void {
    if (this.hooks.fail?.('sync', this.name)) throw new IoError(`sync of ${this.name} failed`);
    this.#run('sync', () => this.inner.sync());
  }
  truncate(length: number): void {
    if (this.hooks.fail?.('truncate', this.name)) throw new IoError(`truncate of ${this.name} failed`);
    this.#run('truncate', () => this.inner.truncate(length));
  }
  close(): void {
    this.inner.close();
  }
}

/** A MemoryDirectory whose mutating operations call hooks (see {@link Hooks}). */
export class HookedDirectory implements StorageDirectory {
  constructor(
    readonly inner: MemoryDirectory,
    readonly hooks: Hooks = {},
  ) {}
  get location(): string {
    return this.inner.location;
  }
  #run<T>(op: Op, name: string, f: () => T): T {
    this.hooks.at?.(op, name, 'before');
    const r = f();
    this.hooks.at?.(op, name, 'after');
    return r;
  }
  open(name: string, mode: OpenMode): RandomAccessFile {
    const f = mode === 'read' ? this.inner.open(name, mode) : this.#run('open', name, () => this.inner.open(name, mode));
    return new HookedFile(f, this.hooks);
  }
  list(): string[] {
    return this.inner.list();
  }
  exists(name: string): boolean {
    return this.inner.exists(name);
  }
  remove(name: string): void {
    this.#run('remove', name, () => this.inner.remove(name));
  }
  writeAtomic(name: string, bytes: Uint8Array): void {
    this.#run('writeAtomic', name, () => this.inner.writeAtomic(name, bytes));
  }
  readAll(name: string): Uint8Array | undefined {
    return this.inner.readAll(name);
  }
  syncDirectory(): void {
    this.#run('syncDirectory', '', () => this.inner.syncDirectory());
  }
}

function ioError(e: unknown, name: string): never {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC') throw new StorageFullError(`no space for ${name}`, e);
  throw new IoError(`${name}: ${(e as Error).message}`, e, code === undefined ? {} : { code, file: name });
}

class NodeFile implements RandomAccessFile {
  #fd: number;
  constructor(
    readonly name: string,
    fd: number,
  ) {
    this.#fd = fd;
  }
  size(): number {
    return fstatSync(this.#fd).size;
  }
  read(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const n = readSync(this.#fd, out, got, length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return out.subarray(0, got);
  }
  append(bytes: Uint8Array): number {
    const at = this.size();
    try {
      for (let done = 0; done < bytes.length; ) done += writeSync(this.#fd, bytes, done, bytes.length - done, at + done);
    } catch (e) {
      ioError(e, this.name);
    }
    return at;
  }
  sync(): void {
    fdatasyncSync(this.#fd);
  }
  truncate(length: number): void {
    ftruncateSync(this.#fd, length);
  }
  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
  }
}

/** A StorageDirectory over node:fs (tests only: the engine's own lives under src/node/). */
export class TestNodeDirectory implements StorageDirectory {
  constructor(readonly location: string) {}
  open(name: string, mode: OpenMode): RandomAccessFile {
    try {
      return new NodeFile(name, openSync(join(this.location, name), mode === 'read' ? 'r' : mode === 'append' ? 'r+' : 'wx+'));
    } catch (e) {
      ioError(e, name);
    }
  }
  list(): string[] {
    return readdirSync(this.location).sort();
  }
  exists(name: string): boolean {
    return existsSync(join(this.location, name));
  }
  remove(name: string): void {
    rmSync(join(this.location, name), { force: true });
  }
  writeAtomic(name: string, bytes: Uint8Array): void {
    const tmp = join(this.location, `${name}.tmp`);
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.location, name));
    this.syncDirectory();
  }
  readAll(name: string): Uint8Array | undefined {
    try {
      return new Uint8Array(readFileSync(join(this.location, name)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      ioError(e, name);
    }
  }
  syncDirectory(): void {
    const fd = openSync(this.location, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}
