/**
 * A {@link StorageDirectory} persisted in IndexedDB: the fallback where OPFS with sync
 * access handles is missing (a page rather than a dedicated worker, or an older browser).
 *
 * IndexedDB is asynchronous only, while the engine's directory is synchronous, so this
 * directory HOLDS THE WHOLE DATABASE IN MEMORY: every file is loaded at
 * {@link IdbDirectory.open} and served from memory, and changes reach IndexedDB through
 * {@link IdbDirectory.persist}: everything changed since the last persist (the dirty
 * 64 KiB pages of appended or truncated files, created, removed and replaced files, their
 * sizes) is written in ONE readwrite transaction with `durability: 'strict'`, resolved
 * on `complete`. IndexedDB therefore always holds the directory as of some persist: a
 * state the engine could have been in at a crash. DirectoryAdapter's `whenDurable` calls
 * it, so a write is acknowledged only once persisted.
 *
 * A persist that fails (QuotaExceededError: STORAGE_FULL; anything else: IO_ERROR)
 * fails the directory: later changes and persists throw that error, so a write that was
 * refused can never be persisted by a later one; reopen the database (what IndexedDB
 * holds is every acknowledged write).
 *
 * Two tabs: IndexedDB has no exclusive handles, so the directory holds a Web Lock
 * (`navigator.locks`, name `koru-idb:<path>`) for its lifetime; a second opener gets
 * DATABASE_LOCKED.
 *
 * IndexedDB layout (database `koru:<path>`, version 1): store `files` (name → `{ id,
 * size }`) and store `pages` (`[id, page]` → up to 64 KiB). A file's id changes when it
 * is replaced, so an old file's pages never mix with the new one's.
 */
import { CorruptionError, DatabaseLockedError, IoError } from '../errors.js';
import type { OpenMode, RandomAccessFile, StorageDirectory } from '../lsm/io.js';
import { browserEstimate, storageError } from './opfs-handles.js';
import { pathParts } from './paths.js';
import { IdbFile, PAGE_BYTES, type StoredFile } from './idb-file.js';
import { loadFiles, openIdb } from './idb-io.js';

/** How long after a change nothing asked for a persist before one runs anyway (flushes, merges). */
const IDLE_PERSIST_MS = 1000;

/** The files of one database, in memory, persisted to IndexedDB (see the module doc). */
export class IdbDirectory implements StorageDirectory {
  readonly location: string;
  readonly #db: IDBDatabase;
  readonly #files = new Map<string, StoredFile>();
  /** Files changed since the last persist (still theirs only while named in #files). */
  readonly #dirty = new Set<StoredFile>();
  /** Names removed since the last persist. */
  readonly #removedNames = new Set<string>();
  /** Ids whose pages must go (removed or replaced files). */
  #removedIds: number[] = [];
  #nextId: number;
  #failed: Error | undefined;
  #closed = false;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #releaseLock: () => void;

  private constructor(location: string, db: IDBDatabase, files: Map<string, StoredFile>, nextId: number, releaseLock: () => void) {
    this.location = location;
    this.#db = db;
    this.#files = files;
    this.#nextId = nextId;
    this.#releaseLock = releaseLock;
  }

  /**
   * Takes the database's Web Lock, opens IndexedDB database `koru:<path>` and loads every file.
   * @throws INVALID_ARGUMENT for a bad path; DATABASE_LOCKED when another tab or worker
   *   has it open; CORRUPTION when a file's pages are missing; IO_ERROR
   */
  static async open(path: string): Promise<IdbDirectory> {
    const parts = pathParts(path);
    const name = `koru:${parts.join('/')}`;
    const location = `indexeddb:${name}`;
    const releaseLock = await takeLock(`koru-idb:${parts.join('/')}`, location);
    let db: IDBDatabase | undefined;
    try {
      db = await openIdb(name);
      const { files, nextId } = await loadFiles(db, location);
      return new IdbDirectory(location, db, files, nextId, releaseLock);
    } catch (e) {
      db?.close();
      releaseLock();
      throw e instanceof CorruptionError || e instanceof IoError ? e : storageError(`cannot open ${location}`, location, e);
    }
  }

  open(name: string, mode: OpenMode): RandomAccessFile {
    this.#check();
    let stored = this.#files.get(name);
    if (mode === 'create') {
      this.#usable();
      if (stored !== undefined) throw new IoError(`${this.location}/${name} already exists`, undefined, { code: 'EEXIST', file: name });
      stored = this.#newFile(name);
    } else if (stored === undefined) {
      throw new IoError(`${this.location}/${name} does not exist`, undefined, { code: 'ENOENT', file: name });
    }
    return new IdbFile(name, stored, mode !== 'read', this.#touch);
  }

  list(): string[] {
    this.#check();
    return [...this.#files.keys()].sort();
  }

  exists(name: string): boolean {
    this.#check();
    return this.#files.has(name);
  }

  remove(name: string): void {
    this.#check();
    const stored = this.#files.get(name);
    if (stored === undefined) return;
    this.#usable();
    this.#files.delete(name);
    this.#dirty.delete(stored);
    this.#removedNames.add(name);
    this.#removedIds.push(stored.id);
    this.#scheduleIdle();
  }

  writeAtomic(name: string, bytes: Uint8Array): void {
    this.#check();
    this.#usable();
    const old = this.#files.get(name);
    if (old !== undefined) {
      this.#dirty.delete(old);
      this.#removedIds.push(old.id);
    }
    const stored = this.#newFile(name);
    stored.bytes = bytes.slice();
    stored.length = bytes.length;
    for (let p = 0; p * PAGE_BYTES < bytes.length; p++) stored.dirtyPages.add(p);
  }

  readAll(name: string): Uint8Array | undefined {
    this.#check();
    const s = this.#files.get(name);
    return s === undefined ? undefined : s.bytes.slice(0, s.length);
  }

  /** Nothing: creations and removals persist with the next {@link persist}, all at once. */
  syncDirectory(): void {
    this.#check();
  }

  /** The origin's storage use and quota (navigator.storage.estimate()). */
  estimate(): Promise<{ usage: number; quota: number }> {
    return browserEstimate();
  }

  /** The error that failed the directory, if one did. */
  get failed(): Error | undefined {
    return this.#failed;
  }

  /**
   * Persists every change made so far in one IndexedDB transaction; resolves on its
   * `complete`. Calls made while one runs share the next one. A failure fails the
   * directory (see the module doc) and rejects this and every later call.
   */
  persist(): Promise<void> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    if (this.#closed) return Promise.reject(new IoError(`${this.location} is closed`));
    if (this.#running === undefined) {
      if (this.#dirty.size === 0 && this.#removedNames.size === 0 && this.#removedIds.length === 0) return Promise.resolve();
      return this.#start();
    }
    // One runs: changes made since its snapshot go in the next one, which every caller shares.
    this.#queued ??= this.#running.then(
      () => {
        this.#queued = undefined;
        return this.persist();
      },
      (e: unknown) => {
        this.#queued = undefined;
        throw e;
      },
    );
    return this.#queued;
  }

  /** Persists what is left, closes IndexedDB and releases the lock. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    try {
      if (this.#failed === undefined) await this.persist();
    } finally {
      this.#closed = true;
      await this.#running?.catch(() => undefined);
      this.#db.close();
      this.#releaseLock();
    }
  }

  /** Snapshots the changes (synchronously) and writes them in one transaction. */
  #start(): Promise<void> {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const removedIds = this.#removedIds;
    const removedNames = [...this.#removedNames].filter((n) => !this.#files.has(n));
    const puts: { name: string; id: number; size: number; pages: [number, Uint8Array][]; cutFrom: number | undefined }[] = [];
    for (const f of this.#dirty) {
      if (this.#files.get(f.name) !== f) continue;
      const pages: [number, Uint8Array][] = [];
      for (const p of f.dirtyPages) {
        const start = p * PAGE_BYTES;
        if (start < f.length) pages.push([p, f.bytes.slice(start, Math.min(f.length, start + PAGE_BYTES))]);
      }
      puts.push({ name: f.name, id: f.id, size: f.length, pages, cutFrom: f.cutFrom });
      f.dirtyPages.clear();
      f.cutFrom = undefined;
    }
    this.#dirty.clear();
    this.#removedNames.clear();
    this.#removedIds = [];
    const run = new Promise<void>((resolve, reject) => {
      const tx = this.#db.transaction(['files', 'pages'], 'readwrite', { durability: 'strict' });
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error('the transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('the transaction was aborted'));
      try {
        const files = tx.objectStore('files');
        const pages = tx.objectStore('pages');
        for (const id of removedIds) pages.delete(IDBKeyRange.bound([id, 0], [id, Infinity]));
        for (const name of removedNames) files.delete(name);
        for (const p of puts) {
          if (p.cutFrom !== undefined) pages.delete(IDBKeyRange.bound([p.id, p.cutFrom], [p.id, Infinity]));
          for (const [i, bytes] of p.pages) pages.put(bytes, [p.id, i]);
          files.put({ id: p.id, size: p.size }, p.name);
        }
      } catch (e) {
        // A request refused as it was made: the requests made before it must not commit
        // alone (half a persist is not a state the directory was ever in).
        try {
          tx.abort();
        } catch {
          // Already finished: it failed on its own.
        }
        reject(e);
      }
    }).catch((e: unknown) => {
      // Anything not persisted now must never be persisted later: the directory is failed.
      this.#failed ??= storageError(`persisting ${this.location} to IndexedDB failed; reopen the database`, this.location, e);
      throw this.#failed;
    });
    this.#running = run.finally(() => (this.#running = undefined));
    return this.#running;
  }

  #newFile(name: string): StoredFile {
    const stored: StoredFile = { name, id: this.#nextId++, bytes: new Uint8Array(0), length: 0, dirtyPages: new Set(), cutFrom: undefined };
    this.#files.set(name, stored);
    this.#removedNames.delete(name);
    this.#touch(stored);
    return stored;
  }

  /** Called on every change of a file: it joins the next persist. @throws the failure once failed */
  readonly #touch = (f: StoredFile): void => {
    this.#usable();
    this.#dirty.add(f);
    this.#scheduleIdle();
  };

  /** Changes nobody waits for (a merge's outputs) still reach IndexedDB soon. */
  #scheduleIdle(): void {
    if (this.#idleTimer !== undefined || this.#closed) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      // A failure is kept (#failed) and reported to the next write.
      this.persist().catch(() => undefined);
    }, IDLE_PERSIST_MS);
  }

  #check(): void {
    if (this.#closed) throw new IoError(`${this.location} is closed`);
  }

  #usable(): void {
    if (this.#failed !== undefined) throw this.#failed;
  }
}

/** Takes Web Lock `name` until the returned function is called. @throws DATABASE_LOCKED when another holds it */
async function takeLock(name: string, location: string): Promise<() => void> {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  // Without Web Locks (very old browsers) two tabs cannot be told apart: nothing to take.
  if (locks === undefined) return () => undefined;
  return new Promise<() => void>((resolve, reject) => {
    locks
      .request(name, { ifAvailable: true }, (lock) => {
        if (lock === null) {
          reject(new DatabaseLockedError(`${location} is open in another tab or worker (it holds the Web Lock ${name}); close it there first`, { location }));
          return undefined;
        }
        // Held until released: the callback's promise settles then.
        return new Promise<void>((release) => resolve(() => release()));
      })
      .catch(reject);
  });
}
