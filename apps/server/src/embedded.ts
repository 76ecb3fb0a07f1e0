/**
 * Whether a served database has an embedded storage engine underneath: a database on a
 * shared store (PostgreSQL) has none, and what reads that engine directly (browser sync,
 * the state root, the export's seq-ordered scan) answers differently there.
 */
import { ErrorCodes, isKoruError, type KoruDelta } from '@koru/delta';
import type { CausalStorage } from '@koru/storage';

/** The embedded storage engine under `db`; undefined when `db` is on a shared store. O(1). */
export function embeddedStorage(db: KoruDelta): CausalStorage | undefined {
  try {
    return db.storage;
  } catch (e) {
    // A store's database refuses `storage` with UNSUPPORTED: it is the only way to tell.
    if (isKoruError(e, ErrorCodes.UNSUPPORTED)) return undefined;
    throw e;
  }
}
