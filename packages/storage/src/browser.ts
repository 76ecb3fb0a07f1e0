/**
 * @koru/storage/browser — durable storage in a browser: the engine over the Origin
 * Private File System (sync access handles, so inside a dedicated worker) or, where that
 * is missing, over IndexedDB (the whole database held in memory). Browser-safe only.
 *
 *     const adapter = await openBrowserAdapter('my-app');  // in a dedicated worker
 *     const storage = await CausalStorage.open({ adapter });
 */
import { InvalidArgumentError } from '@koru/engine';
import type { OpenedStorage } from './adapter.js';
import { DirectoryAdapter, checkDirectoryAdapterOptions, type DirectoryAdapterOptions } from './directory-adapter.js';
import { IdbDirectory } from './browser/idb-directory.js';
import { hasSyncAccessHandles } from './browser/opfs-handles.js';
import { OpfsDirectory } from './browser/opfs-directory.js';
import type { OpfsListing } from './browser/opfs-listing.js';

export { OpfsDirectory, OPFS_ROOT_DIR, browserEstimate, type OpfsDirectoryOptions } from './browser/opfs-directory.js';
export { IdbDirectory } from './browser/idb-directory.js';
export { hasSyncAccessHandles } from './browser/opfs-handles.js';
export { listOpfsPool, type OpfsListing } from './browser/opfs-listing.js';
export {
  POOL_HEADER_BYTES,
  HEADER_COPY_BYTES,
  HEADER_COPY_AT,
  encodePoolHeader,
  decodePoolHeader,
  classifyPoolHeaders,
  type PoolHeader,
  type PoolSlotState,
} from './browser/pool-header.js';
export { DirectoryAdapter, type DirectoryAdapterOptions } from './directory-adapter.js';

/** Which browser backend: OPFS (sync access handles) or IndexedDB. */
export type BrowserBackend = 'opfs' | 'indexeddb';

/** Options of {@link openBrowserAdapter}. */
export interface BrowserAdapterOptions extends Omit<DirectoryAdapterOptions, 'name'> {
  /** `auto` (default): OPFS where sync access handles exist (a dedicated worker), else IndexedDB. */
  readonly backend?: 'auto' | BrowserBackend;
  /**
   * The database's OPFS pool as listed by the context that owns it ({@link listOpfsPool}),
   * to open from on OPFS without listing it again; ignored on IndexedDB.
   */
  readonly listing?: OpfsListing;
}

/** A {@link DirectoryAdapter} over a browser directory; closing it releases the directory. */
export class BrowserAdapter extends DirectoryAdapter {
  /** The backend in use (also the adapter's `name`). */
  readonly backend: BrowserBackend;
  readonly #directory: OpfsDirectory | IdbDirectory;

  constructor(directory: OpfsDirectory | IdbDirectory, options: Omit<DirectoryAdapterOptions, 'name'> = {}) {
    const backend: BrowserBackend = directory instanceof OpfsDirectory ? 'opfs' : 'indexeddb';
    super(directory, { ...options, name: backend });
    this.backend = backend;
    this.#directory = directory;
  }

  /** Opens the tree; when that fails (damage without `repair`…), the directory is released at once. */
  override async open(): Promise<OpenedStorage> {
    try {
      return await super.open();
    } catch (e) {
      // CausalStorage closes no adapter whose open failed: the handles or lock go here.
      await this.#directory.close().catch(() => undefined);
      throw e;
    }
  }

  /** The origin's storage use and quota, in bytes (navigator.storage.estimate()). */
  estimate(): Promise<{ usage: number; quota: number }> {
    return this.#directory.estimate();
  }

  /** Closes the store's tree, persists, then releases the directory (its handles or lock). */
  override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      await this.#directory.close();
    }
  }
}

/**
 * Opens the browser database at `path` (letters, digits, `.`, `_`, `-`, parts joined by
 * `/`): OPFS directory `koru/<path>`, or IndexedDB database `koru:<path>`. Pass the
 * adapter to `CausalStorage.open({ adapter })` (or `KoruDelta.start({ adapter })`).
 * Flushes and merges run on the calling thread: call it from a dedicated worker (on a
 * page's main thread, only IndexedDB is available, and a merge would block the page).
 * @throws INVALID_ARGUMENT for a bad path or option (or `backend: 'opfs'` where sync
 *   access handles are missing); DATABASE_LOCKED when another tab or worker has it open;
 *   IO_ERROR
 */
export async function openBrowserAdapter(path: string, options: BrowserAdapterOptions = {}): Promise<BrowserAdapter> {
  const { backend = 'auto', listing, ...rest } = options;
  if (backend !== 'auto' && backend !== 'opfs' && backend !== 'indexeddb') {
    throw new InvalidArgumentError(`backend must be 'auto', 'opfs' or 'indexeddb', not ${String(backend)}`);
  }
  checkDirectoryAdapterOptions(rest);
  const opfs = backend === 'opfs' || (backend === 'auto' && hasSyncAccessHandles());
  if (opfs && !hasSyncAccessHandles()) {
    throw new InvalidArgumentError("backend 'opfs' needs OPFS sync access handles, which exist only in a dedicated worker of a browser that has them");
  }
  const directory = opfs ? await OpfsDirectory.open(path, listing !== undefined ? { listing } : {}) : await IdbDirectory.open(path);
  try {
    return new BrowserAdapter(directory, rest);
  } catch (e) {
    await directory.close();
    throw e;
  }
}
