/**
 * The second half of a purge: erasing the purged key's large values.
 *
 * A value larger than the inline limit is stored once, in its value record (`X`), and
 * every version holding it has only its id (FORMAT.md). When a purge removed versions
 * holding such values, their value records must go too, unless a version that is still
 * there holds the same value: a value shared with another key is that key's data as
 * well, and stays.
 *
 * Who else holds it is found by a scan of every version record (`V`), a slice at a time
 * (the event loop keeps serving between slices; other writes go on meanwhile). Its cost
 * is one pass over every version record of the database — O(versions), reading every
 * segment's `V` range — which is why only a purge (a rare, explicit admin operation)
 * does it, and only when the purged versions held large values. Records are not decoded
 * unless they hold a value by reference.
 *
 * Writes that commit while the scan runs may reference a candidate value whose record
 * they found present (a commit writes the value record only when it is missing): after
 * the scan, the changes committed since it started are read back from the change feed,
 * and the deletion is written in the same synchronous step, so no commit slips in
 * between. A later write of the same value finds the record gone and writes it again.
 *
 * The deletion markers and the store's counters, less the erased values, are one batch.
 * While a compaction may reclaim values (value-reclaim.ts), each erased value is noted,
 * so the compaction's merge, which may drop the same record from its inputs, does not
 * count it again.
 *
 * A crash between the purge's first step (purge.ts) and this one leaves the value
 * records (no version holds them any more; nothing reads them): the values stay in the
 * files until a purge of another key holding them, as before purges erased values.
 *
 * Browser-safe: no Node module is used.
 */
import type { LsmTree } from './lsm/lsm-tree.js';
import { bytesKey, KIND_DELETE, type Entry } from './lsm/types.js';
import { isHorizon } from './horizon-records.js';
import type { StoreCounters } from './store-counters.js';
import { reclaimStateOf } from './value-reclaim.js';
import { decodeVersionRecord, FLAG_BY_REFERENCE, prefixEnd, seqKey, TAG_VERSION, valueKey, versionRecordSeq } from './version-records.js';

/** How the scan shares the event loop. */
export interface DropValuesOptions {
  /** Longest run between yields, ms (default 8). */
  readonly sliceMs?: number;
  /** How to yield (default: a macrotask, `setTimeout(0)`). */
  readonly yieldTo?: () => Promise<void>;
  /** The store's counters: the batch takes the erased values off them. */
  readonly counters?: StoreCounters;
}

/** Removes from `ids` the value id a version record holds by reference, if any. */
function unmark(ids: Set<string>, bytes: Uint8Array): void {
  if (isHorizon(bytes)) return;
  if ((versionRecordSeq(bytes).flags & FLAG_BY_REFERENCE) === 0) return;
  const id = decodeVersionRecord(bytes).valueId;
  if (id !== null) ids.delete(id);
}

/**
 * Deletes the value records of `candidates` (value ids the purged versions held by
 * reference) that no version in `tree` still holds, and resolves to the ids deleted.
 * `currentSeq` gives the store's last committed change (for the writes made during the
 * scan). The records leave the files at the merges that reach the deepest level.
 * @throws the tree's errors (CLOSED when the database closes meanwhile: nothing is deleted then)
 */
export async function dropUnsharedValues(tree: LsmTree, candidates: ReadonlySet<string>, currentSeq: () => number, options: DropValuesOptions = {}): Promise<string[]> {
  const ids = new Set(candidates);
  if (ids.size === 0) return [];
  const sliceMs = options.sliceMs ?? 8;
  const yieldTo = options.yieldTo ?? (() => new Promise<void>((r) => setTimeout(r, 0)));
  const startSeq = currentSeq();
  const end = prefixEnd(TAG_VERSION);
  let at = TAG_VERSION;
  for (;;) {
    // A cursor is good until the next write: each slice starts a fresh one where the last stopped.
    const c = tree.cursor();
    const deadline = performance.now() + sliceMs;
    let last: string | undefined;
    for (c.seek(at); c.valid() && ids.size > 0; c.next()) {
      const k = c.key();
      if (k >= end) break;
      unmark(ids, c.value());
      last = k;
      if (performance.now() >= deadline) break;
    }
    if (last === undefined || ids.size === 0 || !c.valid() || c.key() >= end) break;
    at = last + '\u0000';
    await yieldTo();
  }
  // Synchronously from here: the versions committed while the scan ran, then the deletion.
  for (let seq = startSeq + 1, to = currentSeq(); seq <= to && ids.size > 0; seq++) {
    const vkey = tree.get(seqKey(seq));
    if (vkey === undefined) continue;
    const bytes = tree.get(bytesKey(vkey));
    if (bytes !== undefined) unmark(ids, bytes);
  }
  if (ids.size === 0) return [];
  const entries: Entry[] = [];
  const erased: Array<readonly [raw: string, bytes: number]> = [];
  let textBytes = 0;
  for (const id of ids) {
    const key = valueKey(id);
    entries.push({ key, kind: KIND_DELETE, value: new Uint8Array(0) });
    // Counted only when there: a record already gone (a crash, another purge) was counted when it went.
    const record = tree.get(key);
    if (record === undefined) continue;
    // The record is its tag, then the text.
    const bytes = Math.max(0, record.length - 1);
    textBytes += bytes;
    erased.push([key.slice(1, 33), bytes]);
  }
  const counters = options.counters;
  const change = erased.length === 0 ? undefined : counters?.change(counters.seq, new Map(), -erased.length, -textBytes);
  if (change !== undefined) for (const e of change.entries) entries.push(e);
  tree.write(entries);
  change?.apply();
  const reclaim = reclaimStateOf(tree);
  for (const [raw, bytes] of erased) reclaim.erased(raw, bytes);
  tree.sync();
  return [...ids];
}
