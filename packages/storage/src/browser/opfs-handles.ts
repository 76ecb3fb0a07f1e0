/**
 * The slice of the Origin Private File System API the OPFS directory uses, typed here
 * (TypeScript's DOM library lacks the worker-only sync access handle), and how its
 * exceptions become KoruErrors.
 */
import { DatabaseLockedError, IoError, StorageFullError } from '../errors.js';

/** A `FileSystemSyncAccessHandle` (dedicated workers only): synchronous, exclusive. */
export interface SyncAccessHandle {
  read(buffer: Uint8Array, options?: { at: number }): number;
  write(buffer: Uint8Array, options?: { at: number }): number;
  truncate(size: number): void;
  getSize(): number;
  flush(): void;
  close(): void;
}

/** A `FileSystemFileHandle` with the worker-only method. */
export interface OpfsFileHandle {
  readonly name: string;
  createSyncAccessHandle(): Promise<SyncAccessHandle>;
}

/** A `FileSystemDirectoryHandle` (the parts used). */
export interface OpfsDirectoryHandle {
  readonly name: string;
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<OpfsDirectoryHandle>;
  getFileHandle(name: string, options?: { create?: boolean }): Promise<OpfsFileHandle>;
  removeEntry(name: string, options?: { recursive?: boolean }): Promise<void>;
  keys(): AsyncIterableIterator<string>;
}

/** The OPFS root, or undefined where there is none. */
export async function opfsRoot(): Promise<OpfsDirectoryHandle> {
  const storage = (globalThis as { navigator?: { storage?: { getDirectory?: () => Promise<unknown> } } }).navigator?.storage;
  if (typeof storage?.getDirectory !== 'function') throw new IoError('this context has no Origin Private File System (navigator.storage.getDirectory)');
  return (await storage.getDirectory()) as OpfsDirectoryHandle;
}

/** True where OPFS with synchronous access handles is usable: a dedicated worker of a browser that has them. */
export function hasSyncAccessHandles(): boolean {
  const g = globalThis as { navigator?: { storage?: { getDirectory?: unknown } }; FileSystemFileHandle?: { prototype?: { createSyncAccessHandle?: unknown } } };
  return typeof g.navigator?.storage?.getDirectory === 'function' && typeof g.FileSystemFileHandle?.prototype?.createSyncAccessHandle === 'function';
}

/** The DOMException name of `e`, if it is one. */
export function domErrorName(e: unknown): string | undefined {
  const name = (e as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : undefined;
}

/** A storage exception of `what` as a KoruError: a full quota is STORAGE_FULL (nothing stored), the rest IO_ERROR. */
export function storageError(what: string, file: string, e: unknown): Error {
  if (e instanceof IoError || e instanceof StorageFullError) return e;
  const name = domErrorName(e);
  const message = (e as { message?: unknown } | null)?.message;
  if (name === 'QuotaExceededError') return new StorageFullError(`${what}: the browser's storage quota is exhausted (QuotaExceededError); nothing was stored`, e);
  return new IoError(`${what}: ${name ?? 'Error'}: ${typeof message === 'string' ? message : String(e)}`, e, { file });
}

/** An exclusive handle another context holds, as DATABASE_LOCKED. */
export function lockedError(location: string, e: unknown): DatabaseLockedError | undefined {
  const name = domErrorName(e);
  // Chromium says NoModificationAllowedError for a file another sync handle holds; some
  // versions say InvalidStateError.
  if (name !== 'NoModificationAllowedError' && name !== 'InvalidStateError') return undefined;
  return new DatabaseLockedError(`${location} is open in another tab or worker (its files are held by another sync access handle); close it there first`, {
    location,
    cause: String(e),
  });
}

/** Chromium's base::File error for a full disk or quota (FILE_ERROR_NO_SPACE). */
const FILE_ERROR_NO_SPACE = -8;

/**
 * A write that returned `written` instead of `wanted`. Chromium (seen in 150) does not
 * throw QuotaExceededError from a sync access handle's write past the quota: it returns
 * its internal error code as an unsigned 32-bit count (2^32 - 8 for FILE_ERROR_NO_SPACE),
 * so a count larger than the buffer is such a code, and NO_SPACE is a full quota.
 */
export function shortWrite(what: string, file: string, written: number, wanted: number): Error {
  const code = written > wanted ? written - 0x1_0000_0000 : undefined;
  if (code === FILE_ERROR_NO_SPACE) return new StorageFullError(`${what}: the browser's storage quota is exhausted (no space); nothing was stored`);
  const why = code !== undefined ? `the browser reported file error ${code}` : `${written} of ${wanted} bytes written`;
  return new IoError(`${what}: ${why}; nothing was stored`, undefined, { file, ...(code !== undefined ? { fileError: code } : {}) });
}

/** `navigator.storage.estimate()` as two numbers (0 where unknown). */
export async function browserEstimate(): Promise<{ usage: number; quota: number }> {
  const storage = (globalThis as { navigator?: { storage?: { estimate?: () => Promise<{ usage?: number; quota?: number }> } } }).navigator?.storage;
  if (typeof storage?.estimate !== 'function') return { usage: 0, quota: 0 };
  const e = await storage.estimate();
  return { usage: e.usage ?? 0, quota: e.quota ?? 0 };
}
