/**
 * A {@link StorageDirectory} held in memory: the engine's files without a disk, for the
 * in-memory database and for tests. It can also play a crash: {@link MemoryDirectory.crash}
 * gives the directory as a power loss would leave it (appends after a file's last sync
 * lost, or only partly written).
 */
import { IoError } from '../errors.js';
import type { OpenMode, RandomAccessFile, StorageDirectory } from './io.js';

interface Stored {
  bytes: Uint8Array;
  length: number;
  /** Length at the last sync: what survives a crash for sure. */
  synced: number;
}

function missing(location: string, name: string): IoError {
  return new IoError(`${location}/${name} does not exist`, undefined, { code: 'ENOENT', file: name });
}

class MemoryFile implements RandomAccessFile {
  #closed = false;
  constructor(
    readonly name: string,
    readonly stored: Stored,
    readonly writable: boolean,
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
    this.#check();
    if (!this.writable) throw new IoError(`${this.name} is open for reading only`);
    const s = this.stored;
    const at = s.length;
    if (at + bytes.length > s.bytes.length) {
      const grown = new Uint8Array(Math.max(at + bytes.length, s.bytes.length * 2, 256));
      grown.set(s.bytes.subarray(0, at));
      s.bytes = grown;
    }
    s.bytes.set(bytes, at);
    s.length = at + bytes.length;
    return at;
  }

  sync(): void {
    this.#check();
    this.stored.synced = this.stored.length;
  }

  truncate(length: number): void {
    this.#check();
    if (!this.writable) throw new IoError(`${this.name} is open for reading only`);
    this.stored.length = Math.min(this.stored.length, length);
    this.stored.synced = Math.min(this.stored.synced, length);
  }

  close(): void {
    this.#closed = true;
  }

  #check(): void {
    if (this.#closed) throw new IoError(`${this.name} is closed`);
  }
}

/** Files in a Map. Every file operation is immediate; `sync` only marks what a crash keeps. */
export class MemoryDirectory implements StorageDirectory {
  readonly #files = new Map<string, Stored>();

  constructor(readonly location = 'memory') {}

  open(name: string, mode: OpenMode): RandomAccessFile {
    let stored = this.#files.get(name);
    if (mode === 'create') {
      if (stored !== undefined) throw new IoError(`${this.location}/${name} already exists`, undefined, { code: 'EEXIST', file: name });
      stored = { bytes: new Uint8Array(0), length: 0, synced: 0 };
      this.#files.set(name, stored);
    } else if (stored === undefined) throw missing(this.location, name);
    return new MemoryFile(name, stored, mode !== 'read');
  }

  list(): string[] {
    return [...this.#files.keys()].sort();
  }

  exists(name: string): boolean {
    return this.#files.has(name);
  }

  remove(name: string): void {
    this.#files.delete(name);
  }

  writeAtomic(name: string, bytes: Uint8Array): void {
    const copy = bytes.slice();
    this.#files.set(name, { bytes: copy, length: copy.length, synced: copy.length });
  }

  readAll(name: string): Uint8Array | undefined {
    const s = this.#files.get(name);
    return s === undefined ? undefined : s.bytes.slice(0, s.length);
  }

  syncDirectory(): void {}

  /**
   * The directory as a power loss now would leave it: each file keeps its synced bytes
   * plus, when `random` is given, a random part of what was appended after (a torn
   * write). Files created and never synced survive empty, as on most file systems
   * after the directory entry was made durable.
   */
  crash(random?: () => number): MemoryDirectory {
    const after = new MemoryDirectory(this.location);
    for (const [name, s] of this.#files) {
      const extra = random === undefined ? 0 : Math.floor(random() * (s.length - s.synced + 1));
      const length = s.synced + extra;
      const bytes = s.bytes.slice(0, length);
      after.#files.set(name, { bytes, length, synced: length });
    }
    return after;
  }

  /** Flips one bit of a file (tests of damage detection). */
  flipBit(name: string, offset: number, bit = 0): void {
    const s = this.#files.get(name);
    if (s === undefined || offset >= s.length) throw missing(this.location, name);
    s.bytes[offset]! ^= 1 << bit;
  }
}
