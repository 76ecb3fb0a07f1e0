// An in-memory Origin Private File System for Node tests of OpfsDirectory: directories,
// files, exclusive sync access handles, what a power loss keeps (each file as of its
// last flush), and injected failures (the n-th write, truncate or flush throws a
// DOMException-like error). Only what OpfsDirectory uses.
import type { OpfsDirectoryHandle, OpfsFileHandle, SyncAccessHandle } from '../src/browser/opfs-handles.js';

/** Failure injection shared by every handle of one fake file system. */
export interface Faults {
  /** Mutating calls (write, truncate, flush) left before one throws; undefined: never. */
  failIn: number | undefined;
  /** The DOMException name thrown. */
  name: string;
  /** Mutating calls made so far. */
  calls: number;
  /** After the injected failure, every later mutating call fails too (the power is gone). */
  sticky?: boolean;
  /** Set once the injected failure fired. */
  fired?: boolean;
}

class FakeFile {
  data = new Uint8Array(0);
  length = 0;
  /** What a power loss keeps: the bytes at the last flush (a created file survives empty). */
  durable = new Uint8Array(0);
  locked = false;
}

function domError(name: string): Error {
  const e = new Error(`${name} (injected)`);
  e.name = name;
  return e;
}

class FakeHandle implements SyncAccessHandle {
  #closed = false;
  constructor(
    readonly file: FakeFile,
    readonly faults: Faults,
  ) {}

  #mutate(): void {
    if (this.#closed) throw domError('InvalidStateError');
    const f = this.faults;
    f.calls++;
    if (f.fired === true && f.sticky === true) throw domError(f.name);
    if (f.failIn !== undefined && --f.failIn <= 0) {
      f.failIn = undefined;
      f.fired = true;
      throw domError(f.name);
    }
  }

  read(buffer: Uint8Array, options?: { at: number }): number {
    const at = options?.at ?? 0;
    const n = Math.max(0, Math.min(buffer.length, this.file.length - at));
    buffer.set(this.file.data.subarray(at, at + n));
    return n;
  }

  write(buffer: Uint8Array, options?: { at: number }): number {
    this.#mutate();
    const f = this.file;
    const at = options?.at ?? 0;
    const end = at + buffer.length;
    if (end > f.data.length) {
      const grown = new Uint8Array(Math.max(end, f.data.length * 2));
      grown.set(f.data.subarray(0, f.length));
      f.data = grown;
    }
    // A write past the end leaves zeros between, as OPFS does.
    if (at > f.length) f.data.fill(0, f.length, at);
    f.data.set(buffer, at);
    f.length = Math.max(f.length, end);
    return buffer.length;
  }

  truncate(size: number): void {
    this.#mutate();
    const f = this.file;
    if (size > f.data.length) {
      const grown = new Uint8Array(size);
      grown.set(f.data.subarray(0, f.length));
      f.data = grown;
    } else if (size > f.length) f.data.fill(0, f.length, size);
    f.length = size;
  }

  getSize(): number {
    return this.file.length;
  }

  flush(): void {
    this.#mutate();
    this.file.durable = this.file.data.slice(0, this.file.length);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.file.locked = false;
  }
}

class FakeFileHandle implements OpfsFileHandle {
  constructor(
    readonly name: string,
    readonly file: FakeFile,
    readonly faults: Faults,
  ) {}

  async createSyncAccessHandle(): Promise<SyncAccessHandle> {
    if (this.file.locked) throw domError('NoModificationAllowedError');
    this.file.locked = true;
    return new FakeHandle(this.file, this.faults);
  }
}

/** A fake OPFS directory. */
export class FakeDirectory implements OpfsDirectoryHandle {
  readonly entries = new Map<string, FakeDirectory | FakeFile>();
  constructor(
    readonly name: string,
    readonly faults: Faults,
  ) {}

  async getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<OpfsDirectoryHandle> {
    let e = this.entries.get(name);
    if (e === undefined && options?.create === true) this.entries.set(name, (e = new FakeDirectory(name, this.faults)));
    if (!(e instanceof FakeDirectory)) throw domError(e === undefined ? 'NotFoundError' : 'TypeMismatchError');
    return e;
  }

  async getFileHandle(name: string, options?: { create?: boolean }): Promise<OpfsFileHandle> {
    let e = this.entries.get(name);
    if (e === undefined && options?.create === true) this.entries.set(name, (e = new FakeFile()));
    if (!(e instanceof FakeFile)) throw domError(e === undefined ? 'NotFoundError' : 'TypeMismatchError');
    return new FakeFileHandle(name, e, this.faults);
  }

  async removeEntry(name: string): Promise<void> {
    this.entries.delete(name);
  }

  async *keys(): AsyncIterableIterator<string> {
    for (const k of [...this.entries.keys()]) yield k;
  }

  /** The file system as a power loss now would leave it: every file as of its last flush, unlocked. */
  crash(faults: Faults = this.faults): FakeDirectory {
    const after = new FakeDirectory(this.name, faults);
    for (const [k, e] of this.entries) {
      if (e instanceof FakeDirectory) after.entries.set(k, e.crash(faults));
      else {
        const f = new FakeFile();
        f.data = e.durable.slice();
        f.length = f.data.length;
        f.durable = f.data.slice();
        after.entries.set(k, f);
      }
    }
    return after;
  }

  /** The pool file `name` of directory `path` (tests flip its bytes). */
  file(path: readonly string[], name: string): { data: Uint8Array; length: number } {
    let d: FakeDirectory = this;
    for (const p of path) d = d.entries.get(p) as FakeDirectory;
    return d.entries.get(name) as FakeFile;
  }
}

/** A fresh fake file system: its root and its faults. */
export function fakeOpfs(): FakeDirectory {
  return new FakeDirectory('', { failIn: undefined, name: 'InvalidStateError', calls: 0 });
}

/** Makes `root` this process's `navigator.storage.getDirectory()` (returns the restore). */
export function installFakeOpfs(get: () => FakeDirectory): () => void {
  const g = globalThis as { navigator?: unknown };
  const had = Object.getOwnPropertyDescriptor(g, 'navigator');
  Object.defineProperty(g, 'navigator', {
    configurable: true,
    value: { storage: { getDirectory: async () => get(), estimate: async () => ({ usage: 1, quota: 2 }) } },
  });
  return () => {
    if (had !== undefined) Object.defineProperty(g, 'navigator', had);
    else delete g.navigator;
  };
}
