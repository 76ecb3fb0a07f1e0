/**
 * The worker's half of the tabs' read caches (./tab-cache.ts): reads of a key's current
 * version answered in the step that reads them, and the keys of every commit, gathered
 * in the step that applies it and sent with the next message the worker posts (or, if
 * none goes out soon, on their own). Both go out on the port every other
 * answer takes, so their order on it is the order of the reads and commits themselves:
 * an answer posted before a commit's keys was read before that commit, one posted after
 * them was read after it. (An answer posted from a promise callback, as the other
 * methods' are, could be read before a commit and posted after its keys: that is why
 * this read does not go through one.)
 *
 * Riding on the next message costs a commit no message of its own: after a write there
 * is always one soon (the write's answer, the `state` that follows every commit).
 */
import type { CausalStorage } from '@koru/storage';
import type { KoruDelta } from '../koru-delta.js';
import { errorToWire } from './errors.js';
import { InvalidationCarrier } from './invalidation-carrier.js';
import type { FromWorker, Invalidation } from './protocol.js';

/** The commits' keys not posted yet, and what carries them out. */
export class InvalidationStream {
  /** Commits numbered as the tabs count them: consecutive, from 1. */
  #commits = 0;
  #carrier: InvalidationCarrier | undefined;

  /**
   * Gathers the keys of every commit `storage` applies (every version of the batch,
   * whether or not it became current: never fewer than changed); `post` sends them on
   * their own when nothing else took them out soon. Returns the remover.
   */
  follow(storage: Pick<CausalStorage, 'onApply'>, post: (m: FromWorker) => void): () => void {
    const carrier = (this.#carrier = new InvalidationCarrier(() => post({ t: 'inval' })));
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
      const n = ++this.#commits;
      carrier.add(n, n, keys);
    });
  }

  /**
   * Posts `m` on `port` with the keys gathered so far (they are gone once it went out;
   * if it cannot be cloned, they stay for the next message). @throws what postMessage throws
   */
  send(port: { postMessage(message: unknown): void }, m: FromWorker): void {
    const inv = this.#carrier?.pending;
    if (inv === undefined) return port.postMessage(m);
    // A message made for this post (never shared): it carries them.
    (m as { inv?: Invalidation }).inv = inv;
    port.postMessage(m);
    this.#carrier!.sent();
  }
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
