/**
 * The versions committed after a seq, in seq order, bounded by a count and by their JSON
 * size: what a sync server answers a client pulling from its cursor (one answer must stay
 * under the WebSocket payload limit). The reserved namespace is never included: index
 * and view definitions are each database's own. Versions that retention or a purge
 * removed are skipped, and the answer says through which seq it skipped some.
 *
 * Browser-safe: no Node module is used.
 */
import { InvalidArgumentError } from '@koru/engine';
import type { CausalStorage } from './causal-storage.js';
import { SYSTEM_NAMESPACE } from './names.js';
import type { Version } from './types.js';

/** A committed version with the change number it was committed as here. */
export type SeqVersion = Version & { readonly seq: number };

/** Options of {@link committedAfter}. */
export interface CommittedAfterOptions {
  /** Only versions of these namespaces (default: every namespace but the reserved one). */
  readonly namespaces?: ReadonlySet<string>;
  /** Most versions in the answer (≥ 1). */
  readonly limit: number;
  /** Most bytes of the versions' JSON in the answer; the first version is always included, whatever its size. */
  readonly maxBytes: number;
  /** Most changes looked at (matching or not), so one answer is bounded when a filter skips most (default 10,000). */
  readonly maxScan?: number;
}

/** What {@link committedAfter} found. */
export interface CommittedAfter {
  /** The versions, in seq order, each with its `seq`. */
  readonly versions: SeqVersion[];
  /** The seq to continue from: every change up to it was looked at (equal to `since` when nothing was). */
  readonly next: number;
  /** The store's last seq when the answer was made: caught up once `next` reaches it. */
  readonly head: number;
  /** Set when versions in (since, next] were skipped because retention or a purge removed them: the greatest such seq. */
  readonly prunedThrough?: number;
}

/** Default of {@link CommittedAfterOptions.maxScan}. */
export const DEFAULT_MAX_SCAN = 10_000;

/** The UTF-8 length of `s` without encoding it. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // Two bytes more from U+0800 (three in all), one more from U+0080; a surrogate
    // pair (4 bytes for 2 units) counts 2 + 2 here.
    if (c >= 0x80) n += c >= 0x800 && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
  }
  return n;
}

function checkCount(name: string, n: unknown, min: number): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, not ${String(n)}`);
  return n;
}

/**
 * The versions `storage` committed after seq `since` (see the module doc), at most
 * `limit` of them and `maxBytes` of JSON. O(changes looked at) lookups.
 * @throws INVALID_ARGUMENT for a `since` that is not a non-negative integer, or bad options
 */
export function committedAfter(storage: CausalStorage, since: number, options: CommittedAfterOptions): CommittedAfter {
  checkCount('since', since, 0);
  const limit = checkCount('limit', options.limit, 1);
  const maxBytes = checkCount('maxBytes', options.maxBytes, 1);
  const maxScan = checkCount('maxScan', options.maxScan ?? DEFAULT_MAX_SCAN, 1);
  const head = storage.seq;
  const versions: SeqVersion[] = [];
  if (since >= head) return { versions, next: since, head };
  const only = options.namespaces;
  const last = Math.min(head, since + maxScan);
  let bytes = 0;
  let next = since;
  let prunedThrough: number | undefined;
  /** Takes the version of change `seq` (unless filtered out); false once the answer is full. */
  const take = (seq: number, v: Version): boolean => {
    if (v.namespace === SYSTEM_NAMESPACE || (only !== undefined && !only.has(v.namespace))) {
      next = seq;
      return true;
    }
    const item: SeqVersion = { ...v, seq };
    const size = utf8Length(JSON.stringify(item)) + 1;
    if (versions.length > 0 && bytes + size > maxBytes) return false;
    versions.push(item);
    bytes += size;
    next = seq;
    return versions.length < limit;
  };
  // Up to the pruned-through seq a change's version may be gone (and `committed` leaves
  // it out): there, one change at a time, to know which. Above it every change has its version.
  const pruned = Math.min(storage.prunedThroughSeq, last);
  let seq = since + 1;
  for (; seq <= pruned; seq++) {
    let found: Version | undefined;
    for (const v of storage.committed(seq, seq)) found = v;
    if (found === undefined) {
      prunedThrough = seq;
      next = seq;
      continue;
    }
    if (!take(seq, found)) return done();
  }
  if (seq <= last) {
    for (const v of storage.committed(seq, last)) {
      if (!take(seq, v)) break;
      seq++;
    }
  }
  return done();

  function done(): CommittedAfter {
    return prunedThrough === undefined ? { versions, next, head } : { versions, next, head, prunedThrough };
  }
}
