/**
 * IndexedDB plumbing of the IndexedDB directory: opening the database (its two stores)
 * and loading every file into memory, checking that each file's pages are all there.
 */
import { CorruptionError, IoError } from '../errors.js';
import { PAGE_BYTES, type StoredFile } from './idb-file.js';

/** A request's result as a promise. */
export function idbRequest<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('the IndexedDB request failed'));
  });
}

/** Opens (creating if needed) IndexedDB database `name` with stores `files` and `pages`. */
export async function openIdb(name: string): Promise<IDBDatabase> {
  const factory = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (factory === undefined) throw new IoError('this context has no IndexedDB');
  const request = factory.open(name, 1);
  request.onupgradeneeded = () => {
    const db = request.result;
    if (!db.objectStoreNames.contains('files')) db.createObjectStore('files');
    if (!db.objectStoreNames.contains('pages')) db.createObjectStore('pages');
  };
  request.onblocked = () => undefined;
  return idbRequest(request);
}

/** Every file of the database, and the next free file id. @throws CorruptionError when pages are missing */
export async function loadFiles(db: IDBDatabase, location: string): Promise<{ files: Map<string, StoredFile>; nextId: number }> {
  const tx = db.transaction(['files', 'pages'], 'readonly');
  const fileStore = tx.objectStore('files');
  const pageStore = tx.objectStore('pages');
  const [names, metas, pageKeys, pageValues] = await Promise.all([
    idbRequest(fileStore.getAllKeys()),
    idbRequest(fileStore.getAll() as IDBRequest<{ id: number; size: number }[]>),
    idbRequest(pageStore.getAllKeys()),
    idbRequest(pageStore.getAll() as IDBRequest<Uint8Array[]>),
  ]);
  const byId = new Map<number, StoredFile>();
  const files = new Map<string, StoredFile>();
  let nextId = 1;
  for (let i = 0; i < names.length; i++) {
    const name = String(names[i]);
    const { id, size } = metas[i]!;
    const f: StoredFile = { name, id, bytes: new Uint8Array(size), length: size, dirtyPages: new Set(), cutFrom: undefined };
    files.set(name, f);
    byId.set(id, f);
    nextId = Math.max(nextId, id + 1);
  }
  const filled = new Map<StoredFile, number>();
  for (let i = 0; i < pageKeys.length; i++) {
    const [id, page] = pageKeys[i] as [number, number];
    nextId = Math.max(nextId, id + 1);
    const f = byId.get(id);
    // Pages of no named file cannot be left by a persist (one transaction); ignored.
    if (f === undefined) continue;
    const at = page * PAGE_BYTES;
    const bytes = pageValues[i]!;
    const want = Math.min(PAGE_BYTES, f.length - at);
    if (want <= 0) continue;
    if (bytes.length < want) throw damaged(location, f, at, `page ${page} holds ${bytes.length} bytes, not ${want}`);
    f.bytes.set(bytes.subarray(0, want), at);
    filled.set(f, (filled.get(f) ?? 0) + 1);
  }
  for (const f of files.values()) {
    const pages = Math.ceil(f.length / PAGE_BYTES);
    if ((filled.get(f) ?? 0) !== pages) throw damaged(location, f, 0, `${filled.get(f) ?? 0} of its ${pages} pages are stored`);
  }
  return { files, nextId };
}

function damaged(location: string, f: StoredFile, offset: number, why: string): CorruptionError {
  return new CorruptionError(`${location}/${f.name} is damaged in IndexedDB: ${why}`, { file: f.name, offset });
}
