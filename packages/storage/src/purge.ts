/**
 * Purge: a key's history erased for good (an erasure request), leaving a verifiable
 * record that it happened.
 *
 * Given the key's tombstone (the caller deletes the key first, through the normal write
 * path, so the deletion is a version like any other: replicated, in the change feed,
 * chained to the old head), the purge removes every version older than the tombstone:
 * - the newest of them (the old head, which the tombstone's `previousVersion` names)
 *   becomes a horizon record with the purge flag (horizon-records.ts) naming the
 *   tombstone as the oldest kept version: so `verify` still checks the tombstone's
 *   chain (its predecessor's id is the record's key), and reads before it answer
 *   HISTORY_PRUNED;
 * - every older one gets a deletion marker (an engine-level delete), so the bytes leave
 *   the files at the merges that reach the deepest level (`compact()` at once).
 * The manifest's `prunedThroughSeq` is raised *before* the records are written: a crash
 * in between leaves it raised over versions still there (harmless: a feed reader below
 * it resyncs), never a removed version above it (which `verify` would call damage).
 *
 * The removed versions' large values (stored once, out of line, in value records `X`)
 * are collected here and erased by the purge's second step, purge-values.ts, unless
 * another version still holds them (a value shared with another key stays: it is that
 * key's data too). Not removed: the change-feed records of the removed versions (they
 * hold their keys, not their values).
 *
 * The store's counters (store-counters.ts) lose the removed versions' inline values in
 * the same batch (a value by reference is counted when its value record is erased).
 *
 * Browser-safe: no Node module is used.
 */
import { encodeHorizon, decodeHorizon, isHorizon, PRUNED_THROUGH_SEQ, prunedThroughSeq } from './horizon-records.js';
import type { LsmTree } from './lsm/lsm-tree.js';
import { KIND_DELETE, KIND_PUT, type Entry } from './lsm/types.js';
import { decodeVersionKeySuffix, decodeVersionRecord, FLAG_BY_REFERENCE, FLAG_INLINE, keyPrefix, versionIdSuffix, versionRecordSeq } from './version-records.js';
import { CorruptionError } from './errors.js';
import { inlineTextBytes } from './retention-filter.js';
import type { StoreCounters } from './store-counters.js';

/** What a purge removed. */
export interface PurgeResult {
  readonly namespace: string;
  readonly key: string;
  /** The tombstone the key's kept history starts with (the horizon). */
  readonly tombstone: string;
  /** Ids of the versions removed, newest first (none when the tombstone was the oldest). */
  readonly removed: readonly string[];
}

/**
 * Removes every version of `namespace/key` older than its version `tombstoneId` (see
 * the module doc). Synchronous: one manifest write, then one batch, synced. The ids of
 * the large values the removed versions held by reference are added to `largeValues`
 * when given (for purge-values.ts's `dropUnsharedValues`). With `counters` (the store's),
 * the batch also takes the removed inline values off them.
 * @throws CorruptionError when the tombstone is not among the key's records; the tree's I/O errors
 */
export function purgeBelow(tree: LsmTree, namespace: string, key: string, tombstoneId: string, largeValues?: Set<string>, counters?: StoreCounters): PurgeResult {
  const prefix = keyPrefix(namespace, key);
  const idSuffix = versionIdSuffix(tombstoneId);
  const entries: Entry[] = [];
  const removed: string[] = [];
  let keptSuffix: string | undefined;
  let maxSeq = 0;
  let values = 0;
  let textBytes = 0;
  const c = tree.cursor({ filterKey: prefix });
  for (c.seek(prefix); c.valid() && c.key().startsWith(prefix); c.next()) {
    const k = c.key();
    if (keptSuffix === undefined) {
      if (k.endsWith(idSuffix)) keptSuffix = k.slice(prefix.length);
      continue;
    }
    const bytes = c.value();
    const horizon = isHorizon(bytes);
    const head = horizon ? undefined : versionRecordSeq(bytes);
    const seq = head === undefined ? decodeHorizon(bytes).seq : head.seq;
    if (seq > maxSeq) maxSeq = seq;
    if (head !== undefined) {
      removed.push(decodeVersionKeySuffix(k, prefix.length).versionId);
      if ((head.flags & FLAG_INLINE) !== 0) {
        values++;
        textBytes += inlineTextBytes(bytes, head.flags, head.seq);
      }
      if (largeValues !== undefined && (head.flags & FLAG_BY_REFERENCE) !== 0) {
        const id = decodeVersionRecord(bytes).valueId;
        if (id !== null) largeValues.add(id);
      }
    }
    // The newest removed record is the horizon; the rest go.
    if (entries.length === 0) entries.push({ key: k, kind: KIND_PUT, value: encodeHorizon(seq, keptSuffix, true) });
    else entries.push({ key: k, kind: KIND_DELETE, value: new Uint8Array(0) });
  }
  if (keptSuffix === undefined) throw new CorruptionError(`${namespace}/${key}: its version ${tombstoneId} is missing`, { namespace, key, versionId: tombstoneId });
  if (entries.length > 0) {
    // The counters' change is staged with the purge's records: one batch.
    const change = counters?.change(counters.seq, new Map(), -values, -textBytes);
    if (maxSeq > prunedThroughSeq(tree)) tree.setProperties({ ...tree.properties, [PRUNED_THROUGH_SEQ]: maxSeq });
    tree.write(change === undefined ? entries : [...entries, ...change.entries]);
    change?.apply();
    tree.sync();
  }
  return { namespace, key, tombstone: tombstoneId, removed };
}
