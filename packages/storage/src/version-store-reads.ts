/**
 * The version store's reads: turning version records into frozen {@link Version}s (the
 * value inline, or by reference through its value record), and the scans that answer
 * history, time travel and the change feed. See version-records.ts for the layout: a
 * key's versions are contiguous and newest first, so each answer is a seek and a short
 * scan of one key's records, which the Bloom filters confine to the files holding it.
 */
import type { JsonValue } from '@koru/engine';
import { CorruptionError } from './errors.js';
import { ByteLru } from './head-cache.js';
import type { LsmCursor, LsmTree } from './lsm/lsm-tree.js';
import { bytesKey } from './lsm/types.js';
import type { Version } from './types.js';
import { horizonBefore, isHorizon, prunedError, prunedThroughSeq } from './horizon-records.js';
import { HistoryPrunedError } from './errors.js';
import {
  decodeSeqKey,
  decodeValueRecord,
  decodeVersionKey,
  decodeVersionKeySuffix,
  decodeVersionRecord,
  keyPrefix,
  namespaceOfVersionKey,
  prefixEnd,
  seqKey,
  TAG_SEQ,
  TAG_VERSION,
  FLAG_CURRENT_AT_COMMIT,
  valueKey,
  versionRecordSeq,
  type VersionKeyFields,
  type VersionRecord,
} from './version-records.js';

/** A materialized version's size beyond twice its value's text: the object, three ids, timestamp, HLC. */
export const VERSION_OVERHEAD_BYTES = 600;

/** One committed change, as {@link VersionStore.changeAt} gives it. */
export interface StoredChange {
  readonly version: Version;
  /** The version current just before it: the newest in clock order with a smaller seq. */
  readonly before: Version | undefined;
  /** True when a later-clocked version was already current (this one did not become current). */
  readonly superseded: boolean;
  /** True when the version before it was cut by retention or a purge (`before` is then undefined). */
  readonly beforePruned?: true;
}

/** HISTORY_PRUNED for change `seq`, whose version retention or a purge removed (feed-reads.ts adds where to resync from). */
function prunedChange(seq: number, tree: LsmTree): HistoryPrunedError {
  const through = prunedThroughSeq(tree);
  return new HistoryPrunedError(`change ${seq} was pruned (changes up to ${through} may be): resync from the current state`, { seq, prunedThroughSeq: through });
}

const DAY_MS = 86_400_000;
let isoDay = Number.NaN;
let isoDayPrefix = '';
const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;

/**
 * `new Date(wall).toISOString()`, with the date part kept from the previous call: a
 * scan's versions mostly share their day, and building a Date and its string was a
 * third of materializing a version.
 */
export function isoOfWall(wall: number): string {
  const day = Math.floor(wall / DAY_MS);
  if (day !== isoDay) {
    // "YYYY-MM-DDT" (or "+YYYYYY-MM-DDT" past year 9999), as toISOString writes it.
    const s = new Date(day * DAY_MS).toISOString();
    isoDayPrefix = s.slice(0, s.length - 13);
    isoDay = day;
  }
  let r = wall - day * DAY_MS;
  const h = Math.floor(r / 3_600_000);
  r -= h * 3_600_000;
  const m = Math.floor(r / 60_000);
  r -= m * 60_000;
  const sec = Math.floor(r / 1000);
  const ms = r - sec * 1000;
  return `${isoDayPrefix}${pad2(h)}:${pad2(m)}:${pad2(sec)}.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
}

const PAD_WALL = '000000000000000';
const PAD_LOGICAL = '000000';

/**
 * `formatHlc({ wall, logical })` for a stamp decoded from a version key (so within the
 * format: the decoder checked it), without the range check and the object.
 */
export function hlcOfStamp(wall: number, logical: number): string {
  // A wall of 13 digits is no small integer, and printing such a double was most of
  // this: it is printed as two parts below 2^31 (8 digits and the rest) instead.
  const hi = Math.floor(wall / 1e8);
  const lo = '' + (wall - hi * 1e8);
  const l = '' + logical;
  const w = hi === 0 ? PAD_WALL.slice(lo.length) + lo : PAD_WALL.slice(('' + hi).length + 8) + hi + PAD_WALL.slice(lo.length + 7) + lo;
  return w + '-' + PAD_LOGICAL.slice(l.length) + l;
}

/**
 * `deepFreeze` for a value JSON.parse just made: nothing in it is frozen or shared yet,
 * and only objects and arrays need freezing, so no `isFrozen` test and no key array per
 * object (measured: about half of deepFreeze's cost on ~200-byte documents). Every own
 * property of a parsed object is enumerable and a parsed object has Object.prototype as
 * prototype, so `for…in` visits exactly its own keys.
 */
function freezeParsed(v: JsonValue): JsonValue {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x === 'object' && x !== null) freezeParsed(x);
    }
  } else if (typeof v === 'object' && v !== null) {
    const o = v as { readonly [k: string]: JsonValue };
    for (const k in o) {
      const x = o[k];
      if (typeof x === 'object' && x !== null) freezeParsed(x);
    }
  }
  return Object.freeze(v);
}

/** A hex rendering of a binary-string key, for error details. */
function hexKey(k: string): string {
  let s = '';
  for (let i = 0; i < k.length && i < 200; i++) s += k.charCodeAt(i).toString(16).padStart(2, '0');
  return s;
}

/**
 * Reads versions from the tree and materializes them. Values read by reference are kept
 * in a bounded cache by value id (frozen values are shared: a value is immutable).
 */
export class VersionFetcher {
  readonly #tree: LsmTree;
  readonly #values: ByteLru<string, { readonly value: JsonValue; readonly textLength: number }>;
  /** UTF-8-ish size (its text's length) of the value of the version built last. */
  lastTextLength = 0;
  /** The names of the version built last, and their key prefix (names are prefix-free). */
  #lastPrefix = '';
  #lastNamespace = '';
  #lastKey = '';

  constructor(tree: LsmTree, valueCacheBytes: number) {
    this.#tree = tree;
    this.#values = new ByteLru(valueCacheBytes);
  }

  /** The decoded record stored under version key `vkey`. @throws CorruptionError when there is none */
  record(vkey: string): VersionRecord {
    const bytes = this.#tree.get(vkey);
    if (bytes === undefined) throw new CorruptionError('a version record the store refers to is missing', { record: hexKey(vkey) });
    return decodeVersionRecord(bytes);
  }

  /** The version stored under `vkey` with value `bytes`. @throws CorruptionError */
  version(vkey: string, bytes: Uint8Array): Version {
    return this.build(vkey, decodeVersionRecord(bytes));
  }

  /** The version of key `vkey` and record `r`. @throws CorruptionError */
  build(vkey: string, r: VersionRecord): Version {
    // A scan reads one key's versions in a row: its names are decoded once.
    let f: Pick<VersionKeyFields, 'wall' | 'logical' | 'node' | 'versionId'>;
    if (this.#lastPrefix.length > 0 && vkey.startsWith(this.#lastPrefix)) f = decodeVersionKeySuffix(vkey, this.#lastPrefix.length);
    else {
      const full = decodeVersionKey(vkey);
      this.#lastNamespace = full.namespace;
      this.#lastKey = full.key;
      this.#lastPrefix = keyPrefix(full.namespace, full.key);
      f = full;
    }
    let value: JsonValue = null;
    this.lastTextLength = 0;
    if (!r.deleted) value = r.valueText !== null ? this.#parse(r.valueText, vkey) : this.#byReference(r.valueId!, vkey);
    return Object.freeze({
      namespace: this.#lastNamespace,
      key: this.#lastKey,
      value,
      valueId: r.valueId,
      versionId: f.versionId,
      previousVersion: r.previousVersion,
      timestamp: isoOfWall(f.wall),
      hlc: hlcOfStamp(f.wall, f.logical),
      node: f.node,
      deleted: r.deleted,
    });
  }

  /** A large value, stored once in its value record. */
  #byReference(valueId: string, vkey: string): JsonValue {
    const cached = this.#values.get(valueId);
    if (cached !== undefined) {
      this.lastTextLength = cached.textLength;
      return cached.value;
    }
    const text = this.#referencedText(valueId, vkey);
    const value = this.#parse(text, vkey);
    this.#values.set(valueId, { value, textLength: text.length }, text.length * 2 + 64);
    return value;
  }

  /**
   * The canonical JSON text of the value of record `r` (stored under `vkey`), as stored:
   * for streaming versions without parsing their values. Null for a tombstone.
   * @throws CorruptionError
   */
  text(vkey: string, r: VersionRecord): string | null {
    if (r.deleted) return null;
    return r.valueText ?? this.#referencedText(r.valueId!, vkey);
  }

  #referencedText(valueId: string, vkey: string): string {
    const bytes = this.#tree.get(valueKey(valueId));
    if (bytes === undefined) throw new CorruptionError(`value ${valueId} is missing`, { record: hexKey(vkey), valueId });
    return decodeValueRecord(bytes).text;
  }

  #parse(text: string, vkey: string): JsonValue {
    this.lastTextLength = text.length;
    try {
      return freezeParsed(JSON.parse(text) as JsonValue);
    } catch (cause) {
      throw new CorruptionError('a stored value is not JSON', { record: hexKey(vkey) }, cause);
    }
  }
}

/** A version already materialized under record key `vkey` (the key's cached head), reused instead of decoded again. */
export interface KnownVersion {
  readonly vkey: string;
  readonly version: Version | undefined;
}

/** The version stored under `k` (value `v`): `known`'s when it is that record, else decoded. */
function versionOf(f: VersionFetcher, k: string, v: Uint8Array, known: KnownVersion | undefined): Version {
  return known?.version !== undefined && known.vkey === k ? known.version : f.version(k, v);
}

/** The first version at or after `seekKey` within the key `prefix` (newest first), materialized. */
export function versionFrom(f: VersionFetcher, tree: LsmTree, prefix: string, seekKey: string, known?: KnownVersion): Version | undefined {
  let found: Version | undefined;
  let foundKey = '';
  let horizon: Uint8Array | undefined;
  let replicatedLate = false;
  tree.scanKey(
    prefix,
    (k, v) => {
      // Retention and purge: nothing at or past a horizon record is kept (horizon-records.ts).
      if (isHorizon(v)) horizon = v;
      else {
        found = versionOf(f, k, v, known);
        foundKey = k;
        replicatedLate = (v[0]! & FLAG_CURRENT_AT_COMMIT) === 0;
      }
      return false;
    },
    seekKey,
  );
  if (horizon !== undefined) throw prunedError(prefix, horizon, 'that time');
  if (found === undefined) {
    const h = horizonBefore(tree, prefix);
    if (h !== undefined) throw prunedError(prefix, h.bytes, 'that time');
    return undefined;
  }
  // Only a version replicated after a later-clocked one can sort past a horizon.
  if (replicatedLate) {
    const h = horizonBefore(tree, prefix, foundKey);
    if (h !== undefined) throw prunedError(prefix, h.bytes, 'that time');
  }
  return found;
}

/** The newest `limit` versions of a key, oldest first. One range scan; `known` (the cached head) is not decoded again. */
export function historyOf(f: VersionFetcher, tree: LsmTree, prefix: string, limit: number, known?: KnownVersion): Version[] {
  const out: Version[] = [];
  if (limit === 0) return out;
  // Values read by reference are gets: they leave the scan where it is. A horizon record ends the kept versions.
  tree.scanKey(prefix, (k, v) => !isHorizon(v) && out.push(versionOf(f, k, v, known)) < limit);
  return out.reverse();
}

/**
 * The first of a key's kept versions, newest first, that `match` takes (its record key
 * and bytes), materialized; undefined when none does. A horizon record met first (the
 * versions past it were cut) throws HISTORY_PRUNED naming `what` was asked for.
 */
function firstKept(f: VersionFetcher, tree: LsmTree, prefix: string, match: (k: string, v: Uint8Array) => boolean, what: string): Version | undefined {
  let found: Version | undefined;
  let horizon: Uint8Array | undefined;
  tree.scanKey(prefix, (k, v) => {
    if (isHorizon(v)) {
      horizon = v;
      return false;
    }
    if (!match(k, v)) return true;
    found = f.version(k, v);
    return false;
  });
  if (horizon !== undefined) throw prunedError(prefix, horizon, what);
  return found;
}

/** The newest version (clock order) of a key with a seq ≤ `seq`. O(h). */
export function versionAtSeq(f: VersionFetcher, tree: LsmTree, prefix: string, seq: number): Version | undefined {
  return firstKept(f, tree, prefix, (_k, v) => versionRecordSeq(v).seq <= seq, `the version current after change ${seq}`);
}

/**
 * The clock stamp of the version of a key whose key ends with `idSuffix`, read from its
 * record key alone (no value parsed); undefined when none. O(h).
 * @throws HistoryPrunedError as {@link versionWithId}
 */
export function stampWithId(tree: LsmTree, prefix: string, idSuffix: string): { readonly wall: number; readonly logical: number } | undefined {
  let found: { readonly wall: number; readonly logical: number } | undefined;
  let horizon: Uint8Array | undefined;
  tree.scanKey(prefix, (k, v) => {
    if (isHorizon(v)) {
      horizon = v;
      return false;
    }
    if (!k.endsWith(idSuffix)) return true;
    const { wall, logical } = decodeVersionKeySuffix(k, prefix.length);
    found = { wall, logical };
    return false;
  });
  if (horizon !== undefined) throw prunedError(prefix, horizon, 'that version id');
  return found;
}

/** The version of a key whose key ends with `idSuffix` (its complemented id). O(h). */
export function versionWithId(f: VersionFetcher, tree: LsmTree, prefix: string, idSuffix: string): Version | undefined {
  // A cut version's id is unknown past the horizon (it may have been any of them).
  return firstKept(f, tree, prefix, (k) => k.endsWith(idSuffix), 'that version id');
}

/** The key prefix (namespace + key) of a version key: through its 2nd terminator. */
export function keyPrefixOf(vkey: string): string {
  const ns = namespaceOfVersionKey(vkey).prefixLength;
  const end = vkey.indexOf('\u0000\u0001', ns);
  if (end < 0) throw new CorruptionError('malformed version key: its key has no terminator', { record: hexKey(vkey) });
  return vkey.slice(0, end + 2);
}

/** The version key change `seq` names. @throws CorruptionError when its record is missing or malformed */
export function changeKey(tree: LsmTree, seq: number): string {
  const bytes = tree.get(seqKey(seq));
  if (bytes === undefined) throw new CorruptionError(`the record of change ${seq} is missing`, { seq });
  return bytesKey(bytes);
}

/**
 * Change `seq` (1 ≤ seq ≤ the last): its version, the one current before it, and
 * whether it was superseded. O(1) seeks for a version current at its commit: every
 * version newer in clock order was committed after it, so the one before it is the
 * next of its key (or a later one, past versions replicated afterwards with older
 * clocks). O(h) for a superseded one: the scan starts at the key's newest.
 */
export function changeAt(f: VersionFetcher, tree: LsmTree, seq: number): StoredChange {
  const vkey = changeKey(tree, seq);
  const stored = tree.get(vkey);
  if ((stored === undefined || isHorizon(stored)) && seq <= prunedThroughSeq(tree)) throw prunedChange(seq, tree);
  // One get: the record as f.record would read it (missing: CorruptionError there).
  const r = stored === undefined ? f.record(vkey) : decodeVersionRecord(stored);
  if (r.seq !== seq) throw new CorruptionError(`change ${seq} names a version committed as change ${r.seq}`, { seq, record: hexKey(vkey) });
  const version = f.build(vkey, r);
  const prefix = keyPrefixOf(vkey);
  let before: Version | undefined;
  let beforePruned = false;
  tree.scanKey(
    prefix,
    (k, v) => {
      if (isHorizon(v)) {
        beforePruned = true;
        return false;
      }
      if (versionRecordSeq(v).seq >= seq) return true;
      before = f.version(k, v);
      return false;
    },
    r.currentAtCommit ? vkey : prefix,
  );
  return beforePruned ? { version, before, superseded: !r.currentAtCommit, beforePruned } : { version, before, superseded: !r.currentAtCommit };
}

/** The last committed seq: the greatest `S` record's (0 when none). O(log seq) seeks. */
export function lastSeq(tree: LsmTree): number {
  const c = tree.cursor();
  const isSeq = (): boolean => c.valid() && c.key().charCodeAt(0) === TAG_SEQ.charCodeAt(0);
  c.seek(TAG_SEQ);
  if (!isSeq()) return 0;
  // Binary search for the greatest seq present: `lo` is one, nothing is at or past `hi`.
  let lo = decodeSeqKey(c.key());
  let hi = Number.MAX_SAFE_INTEGER + 1;
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    c.seek(seqKey(Math.min(mid, Number.MAX_SAFE_INTEGER)));
    if (isSeq()) lo = decodeSeqKey(c.key());
    else hi = mid;
  }
  return lo;
}

/** Namespaces with a version, ascending: one seek per namespace. */
export function namespacesOf(tree: LsmTree): string[] {
  const out: string[] = [];
  const c = tree.cursor();
  c.seek(TAG_VERSION);
  while (c.valid() && c.key().charCodeAt(0) === TAG_VERSION.charCodeAt(0)) {
    const k = c.key();
    const { namespace, prefixLength } = namespaceOfVersionKey(k);
    out.push(namespace);
    c.seek(prefixEnd(k.slice(0, prefixLength)));
  }
  return out;
}

/**
 * A cursor that a generator can hold across its yields: re-made and re-positioned when
 * the tree changed meanwhile (engine cursors refuse use after a write or an install).
 */
export class ResumableCursor {
  readonly #tree: LsmTree;
  #cursor: LsmCursor | undefined;
  #epoch = -1;

  constructor(tree: LsmTree) {
    this.#tree = tree;
  }

  /** Positions on the first entry ≥ `key`; returns it (undefined at the end). */
  seek(key: string): LsmCursor | undefined {
    if (this.#cursor === undefined || this.#epoch !== this.#tree.epoch) {
      this.#cursor = this.#tree.cursor();
      this.#epoch = this.#tree.epoch;
    }
    this.#cursor.seek(key);
    return this.#cursor.valid() ? this.#cursor : undefined;
  }

  /** Moves past `key`, the entry it was on: a step, or a seek after a change. */
  next(key: string): LsmCursor | undefined {
    if (this.#cursor === undefined || this.#epoch !== this.#tree.epoch) return this.seek(key + '\u0000');
    this.#cursor.next();
    return this.#cursor.valid() ? this.#cursor : undefined;
  }
}

/**
 * The versions with seq in [from, to], in seq order, each made by `make` from its record
 * key and decoded record. @throws CorruptionError for a change missing in between
 */
export function* committedRange<T>(f: VersionFetcher, tree: LsmTree, from: number, to: number, make: (vkey: string, r: VersionRecord) => T): Generator<T> {
  if (from > to) return;
  const c = new ResumableCursor(tree);
  const pruned = prunedThroughSeq(tree);
  let e = c.seek(seqKey(from));
  for (let seq = from; seq <= to; seq++) {
    if (seq > from) e = c.next(seqKey(seq - 1));
    if (e === undefined || e.key() !== seqKey(seq)) throw new CorruptionError(`the record of change ${seq} is missing`, { seq });
    const vkey = bytesKey(e.value());
    let r: VersionRecord;
    if (seq <= pruned) {
      // Versions retention or a purge removed are left out (their change records stay).
      const stored = tree.get(vkey);
      if (stored === undefined || isHorizon(stored)) continue;
      r = decodeVersionRecord(stored);
    } else r = f.record(vkey);
    if (r.seq !== seq) throw new CorruptionError(`change ${seq} names a version committed as change ${r.seq}`, { seq, record: hexKey(vkey) });
    yield make(vkey, r);
  }
}

/** The ids of a key's versions, oldest first (read from the record keys alone). O(h). */
export function idsOf(tree: LsmTree, prefix: string): string[] {
  const out: string[] = [];
  tree.scanKey(prefix, (k, v) => {
    if (isHorizon(v)) return false;
    out.push(decodeVersionKeySuffix(k, prefix.length).versionId);
    return true;
  });
  return out.reverse();
}

/** The ids of {@link idBytesOf}: `count` ids of 32 bytes, newest first, in `bytes`. */
export interface IdBytes {
  readonly bytes: Uint8Array;
  readonly count: number;
}

/**
 * The raw 32-byte ids of a key's kept versions, **newest first**, written into `into`
 * (a bigger buffer is made when it is too small, and returned): read from the record
 * keys' last 32 bytes (the complemented id) with no string per id, for digesting every
 * id of a store (a joiner's first state root covers a million of them). O(h).
 * @throws CorruptionError for a record key too short to end in an id, or not binary
 */
export function idBytesOf(tree: LsmTree, prefix: string, into: Uint8Array): IdBytes {
  let bytes = into;
  let count = 0;
  // A version key is the prefix, 12 bytes of clock, a node name (≥ 2 bytes), then the id.
  const minLength = prefix.length + 12 + 2 + 32;
  tree.scanKey(prefix, (k, v) => {
    if (isHorizon(v)) return false;
    if (k.length < minLength) throw new CorruptionError('version key: too short to hold a version id', { record: hexKey(k) });
    if ((count + 1) * 32 > bytes.length) {
      const grown = new Uint8Array(2 * bytes.length + 32);
      grown.set(bytes.subarray(0, count * 32));
      bytes = grown;
    }
    let codes = 0;
    const at = k.length - 32;
    const out = count * 32;
    for (let i = 0; i < 32; i++) {
      const c = k.charCodeAt(at + i);
      codes |= c;
      bytes[out + i] = 0xff ^ c;
    }
    if (codes > 0xff) throw new CorruptionError('version key: not a binary string', { record: hexKey(k) });
    count++;
    return true;
  });
  return { bytes, count };
}

/** The records of a key's versions, oldest first, made by `make`. O(h). */
export function recordsOf<T>(f: VersionFetcher, tree: LsmTree, prefix: string, make: (vkey: string, r: VersionRecord) => T): T[] {
  const out: T[] = [];
  tree.scanKey(prefix, (k, v) => {
    if (isHorizon(v)) return false;
    out.push(make(k, decodeVersionRecord(v)));
    return true;
  });
  return out.reverse();
}
