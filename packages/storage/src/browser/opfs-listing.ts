/**
 * A database's OPFS pool listed ahead of its open, by a context other than the worker
 * that opens it: the owning tab's page lists it while its database worker starts up.
 * Directory and file handles can be posted to a worker (structured clone), so the worker
 * receives them with its open request and skips those round trips to the browser
 * process (the directory walk, the listing, a file handle per pool file: several
 * milliseconds in Chromium), asking only for the sync access handles, which exist
 * nowhere but in a dedicated worker (./opfs-directory.ts).
 */
import { opfsRoot, type OpfsDirectoryHandle, type OpfsFileHandle } from './opfs-handles.js';
import { pathParts } from './paths.js';

/** The OPFS directory every database lives under. */
export const OPFS_ROOT_DIR = 'koru';

/** The name of a pool file (`pool-` and six digits: its index). */
export const POOL_FILE = /^pool-(\d{6})$/;

/** A database's directory `koru/<path>` and the handles of its pool files, listed by {@link listOpfsPool}. */
export interface OpfsListing {
  /** The directory `koru/<path>`. */
  readonly directory: OpfsDirectoryHandle;
  /** Its pool files (any order). */
  readonly files: readonly OpfsFileHandle[];
}

/**
 * Lists the pool of the database at `path`, creating nothing: undefined where there is
 * no OPFS, no such database yet (its worker creates it), or any failure (the worker then
 * lists and reports it itself). Works on a page's main thread. Only a listing taken while
 * holding the database's ownership is fit to open from: no other context may change
 * its set of files meanwhile.
 */
export async function listOpfsPool(path: string): Promise<OpfsListing | undefined> {
  try {
    let directory = await opfsRoot();
    for (const p of [OPFS_ROOT_DIR, ...pathParts(path)]) directory = await directory.getDirectoryHandle(p);
    const names: string[] = [];
    for await (const name of directory.keys()) if (POOL_FILE.test(name)) names.push(name);
    const files = await Promise.all(names.map((name) => directory.getFileHandle(name)));
    return { directory, files };
  } catch {
    return undefined;
  }
}
