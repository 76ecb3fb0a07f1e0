/**
 * The worker's half of the tabs' read caches (./tab-cache.ts): reads of a key's current
 * version answered in the step that reads it, and one `inval` message per commit naming
 * the keys it wrote, posted in the step that applies it. Both go out on the port every
 * other answer takes, so their order on it is the order of the reads and commits
 * themselves: an answer posted before a commit's `inval` was read before that commit,
 * one posted after it was read after it. (An answer posted from a promise callback, as
 * the other methods' are, could be read before a commit and posted after its `inval`:
 * that is why this read does not go through one.)
 */
import type { CausalStorage } from '@koru/storage';
import type { KoruDelta } from '../koru-delta.js';
import { errorToWire } from './errors.js';
import type { FromWorker } from './protocol.js';

/**
 * Posts, at every commit `storage` applies, `{ t: 'inval', n, keys }`: `n` counts the
 * messages from 1 (a tab that sees one missing clears its cache), `keys` the batch's
 * namespaces and keys, alternating (every version of the batch, whether or not it became
 * current: never fewer than changed). Returns the function that stops it.
 */
export function emitInvalidations(storage: Pick<CausalStorage, 'onApply'>, post: (m: FromWorker) => void): () => void {
  let n = 0;
  return storage.onApply((_current, all) => {
    const keys: string[] = [];
    let ns = '';
    let key = '';
    for (const v of all) {
      // A batch writing one key many times names it once in a row.
      if (v.key === key && v.namespace === ns) continue;
      ns = v.namespace;
      key = v.key;
      keys.push(ns, key);
    }
    try {
      post({ t: 'inval', n: ++n, keys });
    } catch {
      // The port is gone (the worker is ending): no tab follows this stream any more.
    }
  });
}

/**
 * Answers `getVersion(namespace, key)` at once (see the module comment): the current
 * version, or the error the database's `getVersion` throws.
 */
export function answerHead(db: KoruDelta, id: number, args: readonly unknown[], post: (m: FromWorker) => void): void {
  let value: unknown;
  try {
    value = db.storage.getVersion(args[0] as string, args[1] as string);
  } catch (e) {
    post({ t: 'error', id, error: errorToWire(e), seq: db.seq });
    return;
  }
  post({ t: 'result', id, value, seq: db.seq });
}
