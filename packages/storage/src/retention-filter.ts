/**
 * The retention filter: the merge filter (see lsm/merge.ts) that cuts history by each
 * namespace's policy (retention.ts), and drops what lies below a horizon. It runs in the
 * merge's thread (a worker on Node) over the merge's entries in key order, so it sees
 * each key's versions together, newest first; it is only given to merges whose output
 * is the deepest level holding their range (nothing older below) and to full merges, so
 * what it cuts leaves no gap under what it keeps.
 *
 * Per key, over the versions the merge sees (newest first):
 * - `{ lastVersions: N }`: the N newest are kept, the rest cut (each cut one has ≥ N
 *   newer versions somewhere: these, and maybe newer ones in upper levels);
 * - `{ maxAgeMs: D }`: versions are kept until the first kept one whose clock is at or
 *   before `now − D` (the one current at the cutoff, so `getAt` anywhere in the window
 *   still answers); the older ones are cut;
 * - the newest version the merge sees is never cut (so neither is the current one).
 * The newest cut version's record becomes the key's horizon record (horizon-records.ts,
 * naming the oldest kept version), the older ones are dropped. A horizon record already
 * there is kept (renamed to the oldest kept version when that changed), or dropped when
 * this merge cut above it; versions below a horizon (replicated later with older
 * clocks) are dropped whatever the policy. Other records pass untouched: value records
 * (`X`) are never dropped here (only `compact()`'s full merge may, through the reclaim
 * filter: reclaim-filter.ts), and change-feed records of cut versions stay (they dangle;
 * the manifest's `prunedThroughSeq` says up to where they may).
 *
 * The filter's report: `{ prunedThroughSeq, cut, removedValues, removedBytes }`, the
 * greatest seq of a version it removed, how many it removed, and the inline values
 * among them with their texts' UTF-8 bytes (for the store's counters: a value by
 * reference is counted when its record goes). Versions below a purge's horizon are
 * not counted: the purge counted them when it removed them (their deletion markers are
 * in records this merge does not see).
 *
 * Browser-safe: no Node module is used.
 */
import { HLC_MAX_WALL } from '@koru/engine';
import { decodeHorizon, encodeHorizon, isHorizon } from './horizon-records.js';
import { varintSize } from './lsm/bytes.js';
import type { MergeFilter } from './lsm/merge.js';
import { KIND_PUT, type EntryKind } from './lsm/types.js';
import type { RetentionPolicy } from './retention.js';
import { FLAG_INLINE, FLAG_PREVIOUS, versionRecordSeq } from './version-records.js';

/** The name the retention filter is registered under (see lsm/merge-runner.ts `registerMergeFilter`). */
export const RETENTION_FILTER = 'koru:retention';

/** What a merge job carries to the filter (structured-cloneable). */
export interface RetentionFilterParams {
  /** Per namespace: its version-key prefix ('V' + name(ns)) and its policy (`keep: 'all'` left out). */
  readonly policies: ReadonlyArray<readonly [string, RetentionPolicy]>;
  /** The time the age rule counts from (ms since the epoch). */
  readonly now: number;
}

const TERMINATOR = '\u0000\u0001';
const TWO_32 = 4294967296;

/** The wall clock of the version key `k` whose key prefix is `p` characters long. */
function wallOf(k: string, p: number): number {
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < 4; i++) {
    hi = hi * 256 + k.charCodeAt(p + i);
    lo = lo * 256 + k.charCodeAt(p + 4 + i);
  }
  return HLC_MAX_WALL - (hi * TWO_32 + lo);
}

/**
 * UTF-8 bytes of the text inline in the version record `value` whose flags and seq are
 * given (0 unless it holds its value inline): what follows its seq, previous id and value id.
 */
export function inlineTextBytes(value: Uint8Array, flags: number, seq: number): number {
  if ((flags & FLAG_INLINE) === 0) return 0;
  return value.length - 1 - varintSize(seq) - ((flags & FLAG_PREVIOUS) !== 0 ? 32 : 0) - 32;
}

/** Builds the retention filter for one merge (see the module doc). */
export function createRetentionFilter(params: unknown): MergeFilter {
  const { policies, now } = params as RetentionFilterParams;
  const byNamespace = new Map<string, RetentionPolicy>(policies);
  // The key being walked: its prefix, its policy, and what its newer versions decided.
  let group = '';
  let policy: RetentionPolicy | undefined;
  let cutoff = -Infinity;
  let seen = 0;
  let lastKept = '';
  let below = false;
  /** Below a purge's horizon: what is dropped there, the purge counted. */
  let belowPurged = false;
  let pastCutoff = false;
  let prunedThroughSeq = 0;
  let cut = 0;
  let removedValues = 0;
  let removedBytes = 0;

  const noteCut = (seq: number): void => {
    cut++;
    if (seq > prunedThroughSeq) prunedThroughSeq = seq;
  };
  /** Cuts the version record `value` (not a horizon): counted, and its inline value too unless a purge counted it. */
  const cutVersion = (value: Uint8Array): number => {
    const { seq, flags } = versionRecordSeq(value);
    noteCut(seq);
    if (!belowPurged && (flags & FLAG_INLINE) !== 0) {
      removedValues++;
      removedBytes += inlineTextBytes(value, flags, seq);
    }
    return seq;
  };

  const filter = (key: string, kind: EntryKind, value: Uint8Array): 'keep' | 'drop' | Uint8Array => {
    if (key.charCodeAt(0) !== 0x56 || kind !== KIND_PUT) return 'keep';
    if (group.length === 0 || !key.startsWith(group)) {
      const ns = key.indexOf(TERMINATOR, 1);
      const end = ns < 0 ? -1 : key.indexOf(TERMINATOR, ns + 2);
      // Not a version key (the version store never writes one): left as it is.
      if (end < 0) return 'keep';
      group = key.slice(0, end + 2);
      policy = byNamespace.get(key.slice(0, ns + 2));
      cutoff = policy !== undefined && 'maxAgeMs' in policy ? now - policy.maxAgeMs : -Infinity;
      seen = 0;
      lastKept = '';
      below = false;
      belowPurged = false;
      pastCutoff = false;
    }
    if (isHorizon(value)) {
      const h = decodeHorizon(value);
      if (h.purged) belowPurged = true;
      if (below) {
        noteCut(h.seq);
        return 'drop';
      }
      below = true;
      // The oldest kept version may have changed (a version replicated since, with an
      // older clock than the horizon's but newer than this record's).
      if (lastKept === '') return 'keep';
      const kept = lastKept.slice(group.length);
      return kept === h.keptSuffix ? 'keep' : encodeHorizon(h.seq, kept, h.purged);
    }
    if (below) {
      cutVersion(value);
      return 'drop';
    }
    let drop = false;
    if (policy !== undefined) {
      if ('lastVersions' in policy) drop = seen >= policy.lastVersions;
      else if ('maxAgeMs' in policy) drop = pastCutoff;
    }
    seen++;
    if (!drop) {
      // The whole key (no slice per entry): its suffix is taken only at a cut.
      lastKept = key;
      if (cutoff !== -Infinity && !pastCutoff && wallOf(key, group.length) <= cutoff) pastCutoff = true;
      return 'keep';
    }
    const seq = cutVersion(value);
    below = true;
    return encodeHorizon(seq, lastKept.slice(group.length), false);
  };
  return Object.assign(filter, { report: () => ({ prunedThroughSeq, cut, removedValues, removedBytes }) });
}
