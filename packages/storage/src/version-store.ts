/**
 * The version store: KoruDelta's versions, hash chains and change feed, kept in the
 * log-structured engine's files (see version-records.ts for the layout), so history
 * lives on disk and opening reads nothing of it.
 *
 * Every answer CausalStorage needs comes from the records: a key's head is the first
 * record at its prefix, its history one range scan, the version current at a clock
 * stamp one seek, the change feed's seq → version one `S` record. A small value (at
 * most `inlineMaxBytes`) is always inline in its version, so no version depends on
 * another for its value; a larger one is stored once, in its value record, and every
 * version with it holds only its id.
 *
 * The store must be its tree's only writer (it caches heads), and the tree must be
 * opened with {@link VERSION_TREE_WRITER}, so each segment's Bloom filter is over key
 * prefixes: every read of a key then skips the files that do not hold it.
 *
 * Browser-safe: no Node module is used.
 */
import { HLC_MAX_LOGICAL, HLC_MAX_WALL, InvalidArgumentError } from '@koru/engine';
import { ByteLru } from './head-cache.js';
import type { LsmTree } from './lsm/lsm-tree.js';
import type { SegmentWriterOptions } from './lsm/segment-writer.js';
import { KIND_PUT, type Entry } from './lsm/types.js';
import { recordBytesOfKey } from './record-slab.js';
import type { Version } from './types.js';
import { decodeHead, encodeHead, headKeyOf, prefixOfHeadKey } from './head-records.js';
import { StoreCounters } from './store-counters.js';
import { reclaimStateOf, type ReclaimState } from './value-reclaim.js';
import { versionJson } from './version-json.js';
import {
  decodeKeyPrefix,
  decodeVersionKey,
  decodeVersionKeySuffix,
  encodeValueRecord,
  encodedTextBytes,
  encodeVersionRecord,
  FILTER_KEY_PARTS,
  FLAG_DELETED,
  keyPrefix,
  keyRangePrefix,
  namespacePrefix,
  seqKey,
  stampKey,
  valueKey,
  versionIdSuffix,
  versionKeySuffix,
  versionRecordSeq,
  type VersionRecord,
} from './version-records.js';
import {
  changeAt,
  changeKey,
  stampWithId,
  committedRange,
  ResumableCursor,
  historyOf,
  idsOf,
  idBytesOf,
  type IdBytes,
  namespacesOf,
  recordsOf,
  VERSION_OVERHEAD_BYTES,
  versionAtSeq,
  VersionFetcher,
  versionFrom,
  versionWithId,
  type StoredChange,
} from './version-store-reads.js';

export type { StoredChange } from './version-store-reads.js';

/** One version to commit (ids and clock computed by the caller, as CausalStorage does). */
export interface NewVersion {
  readonly namespace: string;
  readonly key: string;
  readonly versionId: string;
  readonly previousVersion: string | null;
  readonly valueId: string | null;
  /** canonical JSON, null for a tombstone */
  readonly valueText: string | null;
  readonly wall: number;
  readonly logical: number;
  readonly node: string;
  readonly deleted: boolean;
}

/** Options of {@link VersionStore}. */
export interface VersionStoreOptions {
  /** values up to this many UTF-8 bytes are stored inline in their version (default 1024) */
  readonly inlineMaxBytes?: number;
  /** bytes of materialized versions kept (default 16 MiB) */
  readonly cacheBytes?: number;
}

/** How the version store's tree must write its segments: Bloom filters over key prefixes. */
export const VERSION_TREE_WRITER: SegmentWriterOptions = { filterKeyParts: FILTER_KEY_PARTS };

/** A key's head as cached: its record key, whether it is a tombstone, and the version once materialized. */
interface HeadEntry {
  readonly vkey: string;
  readonly deleted: boolean;
  readonly version: Version | undefined;
}

/** A key's head as a commit sees it. */
interface HeadKey {
  readonly vkey: string;
  readonly deleted: boolean;
}

/**
 * A key's head as a batch leaves it: `item` the batch item that made it, -1 when made
 * before the batch; `record` its version record when the batch made it (its head record
 * is then written). Updated in place as later items of the batch supersede it.
 */
interface BatchHead {
  vkey: string;
  deleted: boolean;
  item: number;
  record: Uint8Array | undefined;
}

/** In a batch's map of heads: a key known to have no version yet. */
const NO_HEAD: BatchHead = { vkey: '', deleted: false, item: -1, record: undefined };

/** Cache bytes of a head known by its key only. */
const HEAD_KEY_BYTES = 160;

/** UTF-8 length of well-formed `s`: 1–3 bytes a unit, 4 for a surrogate pair (2 a unit). */
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) n += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return n;
}

/** A bound of a seq range: any number but NaN (it is clamped). @throws InvalidArgumentError */
function checkSeqBound(name: string, v: number): void {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new InvalidArgumentError(`${name} must be a seq, not ${String(v)}`);
}

/** The version store over one tree. */
export class VersionStore {
  readonly #tree: LsmTree;
  readonly #inlineMax: number;
  readonly #heads: ByteLru<string, HeadEntry>;
  readonly #fetch: VersionFetcher;
  readonly #counters: StoreCounters;
  /** The reclaim window of {@link compact} (value-reclaim.ts). */
  readonly #reclaim: ReclaimState;
  /** The compaction running (or settled), so the next waits for it. */
  #compacting: Promise<void> = Promise.resolve();
  #seq: number;

  /**
   * Opens the store over `tree` (which it must be the only writer of): reads its counters
   * (the last seq among them: one record, and one per namespace), nothing else.
   * @throws InvalidArgumentError for options out of range
   */
  constructor(tree: LsmTree, options: VersionStoreOptions = {}) {
    const inlineMax = options.inlineMaxBytes ?? 1024;
    const cacheBytes = options.cacheBytes ?? 16 * 1024 * 1024;
    if (!(Number.isSafeInteger(inlineMax) && inlineMax >= 0)) throw new InvalidArgumentError(`inlineMaxBytes must be an integer ≥ 0, not ${String(inlineMax)}`);
    if (!(Number.isSafeInteger(cacheBytes) && cacheBytes >= 0)) throw new InvalidArgumentError(`cacheBytes must be an integer ≥ 0, not ${String(cacheBytes)}`);
    this.#tree = tree;
    this.#inlineMax = inlineMax;
    // Heads get most of the budget; values read by reference (shared by many versions) the rest.
    this.#heads = new ByteLru(Math.floor(cacheBytes * 0.75));
    this.#fetch = new VersionFetcher(tree, Math.floor(cacheBytes * 0.25));
    this.#counters = new StoreCounters(tree);
    this.#seq = this.#counters.seq;
    this.#reclaim = reclaimStateOf(tree);
    this.#reclaim.counters = this.#counters;
  }

  /** Live keys per namespace and values stored, as kept by every commit (see store-counters.ts). */
  get counters(): StoreCounters {
    return this.#counters;
  }

  /** The last committed change number (0 when empty). */
  get seq(): number {
    return this.#seq;
  }

  // ---- writes --------------------------------------------------------------------

  /**
   * Stores a batch as ONE tree.write: seq numbers this.seq+1… in order; returns per item
   * whether it became its key's current version (later in clock order than every
   * version of its key stored before it, this batch's earlier items included). A value
   * of at most `inlineMaxBytes` is written inline; a larger one by reference, its value
   * record written only when no version stored it yet. `versions`, when given, are the items as readers will see them (same
   * order): a new head is cached materialized, so a read right after a write parses nothing.
   * `also`: records written in the same log batch, all or none with the versions (the
   * horizon records of imported versions whose predecessor was cut: horizon-records.ts).
   * @throws InvalidArgumentError for a malformed item or one already stored (same
   *   key, clock, node and id), with nothing written; the tree's I/O errors
   */
  commit(batch: readonly NewVersion[], versions?: readonly Version[], also?: readonly Entry[]): boolean[] {
    const n = batch.length;
    const currents = new Array<boolean>(n);
    if (n === 0) return currents;
    const tree = this.#tree;
    const entries: Entry[] = [];
    // Per key of the batch: its newest record so far (NO_HEAD: none yet), with the batch
    // item that made it (-1: the record stored before the batch), in first-seen order.
    const heads = new Map<string, BatchHead>();
    // Live keys gained or lost per namespace (made at the first such change: a key written
    // again changes none), values newly stored and their text.
    let liveDelta: Map<string, number> | undefined;
    let newValues = 0;
    let newText = 0;
    // The batch's record keys, to refuse an item stored twice in it. A duplicate is never
    // current (its first copy is the head, or a newer item superseded it), so the set is
    // only built at the first item that is not current: a batch of local writes, every
    // one current, never hashes its record keys.
    const vkeys = n > 1 ? new Array<string>(n) : undefined;
    let written: Set<string> | undefined;
    let firstStored: Set<string> | undefined;
    let seq = this.#seq;
    for (let i = 0; i < n; i++) {
      const v = batch[i]!;
      if (v.deleted ? v.valueId !== null || v.valueText !== null : v.valueId === null || typeof v.valueText !== 'string') {
        throw new InvalidArgumentError(`item ${i}: ${v.deleted ? 'a tombstone has no value id or text' : 'a live version needs its value id and text'}`);
      }
      const prefix = keyPrefix(v.namespace, v.key);
      const vkey = prefix + versionKeySuffix(v.wall, v.logical, v.node, v.versionId);
      let batchHead = heads.get(prefix);
      if (batchHead === undefined) {
        const stored = this.#headKey(prefix);
        batchHead = stored === undefined ? NO_HEAD : { vkey: stored.vkey, deleted: stored.deleted, item: -1, record: undefined };
        heads.set(prefix, batchHead);
      }
      const head = batchHead === NO_HEAD ? undefined : batchHead;
      // Newest first: a key that sorts before the head is later in clock order.
      const current = head === undefined || vkey < head.vkey;
      if (!current && vkeys !== undefined && written === undefined) written = new Set(vkeys.slice(0, i));
      if (vkey === head?.vkey || (!current && (written?.has(vkey) === true || tree.get(vkey) !== undefined))) {
        throw new InvalidArgumentError(`item ${i}: version ${v.versionId} of ${v.namespace}/${v.key} is already stored`);
      }
      if (current) {
        const wasLive = head !== undefined && !head.deleted;
        if (wasLive === v.deleted) (liveDelta ??= new Map()).set(v.namespace, (liveDelta.get(v.namespace) ?? 0) + (v.deleted ? -1 : 1));
      }
      if (vkeys !== undefined) vkeys[i] = vkey;
      written?.add(vkey);
      seq++;
      let inline: string | null = null;
      if (!v.deleted) {
        const text = v.valueText!;
        // UTF-8 takes 1–3 bytes a UTF-16 unit: only texts in between need counting.
        const bytes = text.length * 3 <= this.#inlineMax ? -1 : utf8Length(text);
        if (bytes <= this.#inlineMax) {
          // Small values always live in their version: no lookup, and no record of their own.
          inline = text;
          newValues++;
        } else {
          const id = v.valueId!;
          if (firstStored?.has(id) !== true) {
            const key = valueKey(id);
            const found = tree.get(key) !== undefined;
            // While a compaction may reclaim values, a record found may be one its merge
            // drops (no version it sees holds the value): written again, so the version
            // never depends on it (value-reclaim.ts).
            if (!found || this.#reclaim.isOpen) {
              (firstStored ??= new Set()).add(id);
              entries.push({ key, kind: KIND_PUT, value: encodeValueRecord(text) });
              if (found) this.#reclaim.rewritten(key.slice(1, 33), bytes);
              else {
                newValues++;
                newText += bytes;
              }
            }
          }
        }
      }
      const record = encodeVersionRecord({ seq, deleted: v.deleted, previousVersion: v.previousVersion, valueId: v.valueId, valueText: inline, currentAtCommit: current });
      if (inline !== null) newText += encodedTextBytes();
      entries.push({ key: vkey, kind: KIND_PUT, value: record });
      entries.push({ key: seqKey(seq), kind: KIND_PUT, value: recordBytesOfKey(vkey) });
      if (current) {
        if (batchHead === NO_HEAD) heads.set(prefix, { vkey, deleted: v.deleted, item: i, record });
        else {
          batchHead.vkey = vkey;
          batchHead.deleted = v.deleted;
          batchHead.item = i;
          batchHead.record = record;
        }
      }
      currents[i] = current;
    }
    for (const [prefix, h] of heads) if (h.record !== undefined) entries.push({ key: headKeyOf(prefix), kind: KIND_PUT, value: encodeHead(h.vkey, h.record) });
    const counted = this.#counters.change(seq, liveDelta, newValues, newText);
    for (const e of counted.entries) entries.push(e);
    if (also !== undefined) for (const e of also) entries.push(e);
    tree.write(entries);
    counted.apply();
    this.#seq = seq;
    const materialized = versions !== undefined && versions.length === n;
    for (const [prefix, head] of heads) {
      if (head === NO_HEAD) continue;
      const { vkey, deleted, item } = head;
      // Unchanged heads keep their materialized version; new ones are cached as given, or read when asked.
      const cached = this.#heads.peek(prefix);
      if (cached?.vkey === vkey) continue;
      if (item >= 0 && materialized) {
        const text = batch[item]!.valueText;
        this.#heads.set(prefix, { vkey, deleted, version: versions[item]! }, VERSION_OVERHEAD_BYTES + 2 * (vkey.length + (text?.length ?? 0)));
      } else this.#heads.set(prefix, { vkey, deleted, version: undefined }, HEAD_KEY_BYTES + 2 * vkey.length);
    }
    return currents;
  }

  /**
   * Merges every file of the tree into one sorted run (`LsmTree.compact()`), with
   * retention applied and the large values no kept version references dropped (their
   * value records: see reclaim-filter.ts); the store's counters then count what is left.
   * Commits go on meanwhile: until the merge's outputs are installed, each writes the
   * value record of every large value it stores, so none depends on a record the merge
   * drops (value-reclaim.ts). Compactions run one at a time (a second waits for the
   * first). Resolves once the outputs are installed.
   * @throws the tree's errors (the files then stay as they were)
   */
  compact(): Promise<void> {
    const run = this.#compacting.then(() => {
      // The window opens in the same synchronous step as the tree's compaction freezes
      // the memtable: every commit before is in a segment the merge reads.
      this.#reclaim.open();
      let compacting: Promise<void>;
      try {
        compacting = this.#tree.compact();
      } catch (e) {
        this.#reclaim.close();
        throw e;
      }
      return compacting.finally(() => this.#reclaim.close());
    });
    this.#compacting = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** The key's head: cached, or one point lookup of its head record. */
  #headKey(prefix: string): HeadKey | undefined {
    // Not made the most recent: the commit's set makes it so when the head moves.
    const cached = this.#heads.peek(prefix);
    if (cached !== undefined) return cached;
    const found = this.#headRecord(prefix);
    return found === undefined ? undefined : { vkey: found.vkey, deleted: (versionRecordSeq(found.record).flags & FLAG_DELETED) !== 0 };
  }

  /** The key's head record (see head-records.ts), or undefined for a key never written. @throws CorruptionError */
  #headRecord(prefix: string): { readonly vkey: string; readonly record: Uint8Array } | undefined {
    const bytes = this.#tree.get(headKeyOf(prefix));
    return bytes === undefined ? undefined : decodeHead(bytes);
  }

  // ---- reads ---------------------------------------------------------------------

  /** The key's newest version (tombstone included), or undefined. Cached; else one point lookup. */
  head(namespace: string, key: string): Version | undefined {
    const prefix = keyPrefix(namespace, key);
    const cached = this.#heads.get(prefix);
    if (cached?.version !== undefined) return cached.version;
    if (cached !== undefined) return this.#cacheHead(prefix, cached.vkey, this.#fetch.build(cached.vkey, this.#fetch.record(cached.vkey)));
    const found = this.#headRecord(prefix);
    if (found === undefined) return undefined;
    return this.#cacheHead(prefix, found.vkey, this.#fetch.version(found.vkey, found.record));
  }

  #cacheHead(prefix: string, vkey: string, version: Version): Version {
    this.#heads.set(prefix, { vkey, deleted: version.deleted, version }, VERSION_OVERHEAD_BYTES + 2 * (vkey.length + this.#fetch.lastTextLength));
    return version;
  }

  /** The key's versions, oldest first (tombstones included): the newest `limit` of them (default all). One range scan. */
  history(namespace: string, key: string, limit?: number): Version[] {
    if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0)) throw new InvalidArgumentError(`history limit must be an integer ≥ 0, not ${String(limit)}`);
    const prefix = keyPrefix(namespace, key);
    return historyOf(this.#fetch, this.#tree, prefix, limit ?? Number.MAX_SAFE_INTEGER, this.#heads.get(prefix));
  }

  /**
   * The key's newest version with clock ≤ (wall, logical ?? max), tombstones included:
   * of versions sharing that clock, the greatest node's. `wall` may be any time in ms (a
   * fraction is floored; one past the clock's range means "now"). One seek.
   * @throws InvalidArgumentError for a NaN time or a logical outside the clock's range
   */
  at(namespace: string, key: string, wall: number, logical?: number): Version | undefined {
    if (typeof wall !== 'number' || Number.isNaN(wall)) throw new InvalidArgumentError(`at expects a time in ms, not ${String(wall)}`);
    if (logical !== undefined && !(Number.isInteger(logical) && logical >= 0 && logical <= HLC_MAX_LOGICAL)) {
      throw new InvalidArgumentError(`logical must be an integer in 0–${HLC_MAX_LOGICAL}, not ${String(logical)}`);
    }
    const prefix = keyPrefix(namespace, key);
    if (wall < 0) return undefined;
    const w = Math.min(Math.floor(wall), HLC_MAX_WALL);
    const l = wall > HLC_MAX_WALL ? HLC_MAX_LOGICAL : (logical ?? HLC_MAX_LOGICAL);
    const seekKey = prefix + stampKey(w, l);
    // The head is the key's first record: at or after the stamp, it is the answer (no seek).
    const head = this.#heads.get(prefix);
    if (head?.version !== undefined && seekKey <= head.vkey) return head.version;
    return versionFrom(this.#fetch, this.#tree, prefix, seekKey, head);
  }

  /** The key's current version right after change `seq`: the newest in clock order of those with seq' ≤ seq. O(h). */
  atSeq(namespace: string, key: string, seq: number): Version | undefined {
    if (typeof seq !== 'number' || Number.isNaN(seq)) throw new InvalidArgumentError(`atSeq expects a seq, not ${String(seq)}`);
    return versionAtSeq(this.#fetch, this.#tree, keyPrefix(namespace, key), seq);
  }

  /** The key's version `versionId`, or undefined. O(h). */
  byId(namespace: string, key: string, versionId: string): Version | undefined {
    const prefix = keyPrefix(namespace, key);
    return versionWithId(this.#fetch, this.#tree, prefix, versionIdSuffix(versionId));
  }

  /**
   * The clock stamp of a key's version `versionId` (undefined when not stored), without
   * reading its value: the key's cached head when it is that version (a replicated
   * version's predecessor usually is), else a scan of the key's record keys. O(h).
   * @throws HistoryPrunedError when the scan meets the key's horizon first
   */
  stampById(namespace: string, key: string, versionId: string): { readonly wall: number; readonly logical: number } | undefined {
    const prefix = keyPrefix(namespace, key);
    const suffix = versionIdSuffix(versionId);
    const head = this.#heads.get(prefix);
    if (head !== undefined && head.vkey.endsWith(suffix)) {
      const { wall, logical } = decodeVersionKeySuffix(head.vkey, prefix.length);
      return { wall, logical };
    }
    return stampWithId(this.#tree, prefix, suffix);
  }

  /** True when exactly this version is stored. One get. @throws InvalidArgumentError for fields outside the layout */
  has(namespace: string, key: string, wall: number, logical: number, node: string, versionId: string): boolean {
    const prefix = keyPrefix(namespace, key);
    const vkey = prefix + versionKeySuffix(wall, logical, node, versionId);
    // Newer than the key's cached head (keys sort newest first): not stored, no lookup.
    const head = this.#heads.get(prefix);
    if (head !== undefined && vkey < head.vkey) return false;
    return this.#tree.get(vkey) !== undefined;
  }

  /**
   * Change `seq`: its version, the version current just before it (the newest in clock
   * order with a smaller seq), and whether a later-clocked version was already current
   * (superseded). Undefined outside [1, seq]. O(1) seeks unless superseded (then O(h)).
   * @throws CorruptionError when the change's records are missing or malformed
   */
  changeAt(seq: number): StoredChange | undefined {
    if (!Number.isSafeInteger(seq) || seq < 1 || seq > this.#seq) return undefined;
    return changeAt(this.#fetch, this.#tree, seq);
  }

  /**
   * The namespace and key of change `seq` (undefined out of range): one lookup of its
   * `S` record, no version read — also for a change whose version was since cut.
   * @throws CorruptionError when the change's record is missing or malformed
   */
  keyOfChange(seq: number): { readonly namespace: string; readonly key: string } | undefined {
    if (!Number.isSafeInteger(seq) || seq < 1 || seq > this.#seq) return undefined;
    const { namespace, key } = decodeVersionKey(changeKey(this.#tree, seq));
    return { namespace, key };
  }

  /** Every key of a namespace with its head, in key order (one seek per key). */
  heads(namespace: string): Iterable<Version> {
    const start = headKeyOf(namespacePrefix(namespace));
    return this.#eachHead(start, start, (prefix, vkey, record) => {
      const cached = this.#heads.get(prefix);
      if (cached?.version !== undefined && cached.vkey === vkey) return cached.version;
      return this.#cacheHead(prefix, vkey, this.#fetch.version(vkey, record));
    });
  }

  /**
   * The keys of a namespace (UTF-8 byte order), each with whether its head is a tombstone:
   * those starting with `prefix` (all for ''), and only those after `after` when given.
   * One range scan from a seek to the first such key, ending at the first key past the
   * prefix; no value read. Names must be valid (see names.ts; `prefix` well-formed).
   */
  keys(namespace: string, prefix = '', after?: string): Iterable<{ readonly key: string; readonly deleted: boolean }> {
    const range = headKeyOf(keyRangePrefix(namespace, prefix));
    // The least string above a key's head key is that key with a 0x00 appended.
    const past = after === undefined || after === '' ? range : headKeyOf(keyPrefix(namespace, after)) + '\u0000';
    return this.#eachHead(range, past > range ? past : range, (hprefix, _vkey, record) => ({
      key: decodeKeyPrefix(hprefix).key,
      deleted: (versionRecordSeq(record).flags & FLAG_DELETED) !== 0,
    }));
  }

  /**
   * Each key whose head key starts with `range`, from the first at or after `start`, in key
   * order, made by `make` from its head record: one range scan of the head records.
   */
  *#eachHead<T>(range: string, start: string, make: (prefix: string, vkey: string, record: Uint8Array) => T): Generator<T> {
    const c = new ResumableCursor(this.#tree);
    for (let e = c.seek(start); e !== undefined && e.key().startsWith(range); ) {
      const hkey = e.key();
      const { vkey, record } = decodeHead(e.value());
      const made = make(prefixOfHeadKey(hkey), vkey, record);
      yield made;
      e = c.next(hkey);
    }
  }

  /** Namespaces with at least one version (tombstones count), ascending. One seek each. */
  namespaces(): string[] {
    return namespacesOf(this.#tree);
  }

  /** The versions with seq in [from, to] (clamped to [1, seq]), in seq order (via S records). */
  committed(from: number, to: number): Iterable<Version> {
    const f = this.#fetch;
    return this.#committed(from, to, (vkey, r) => f.build(vkey, r));
  }

  /**
   * The JSON of the versions with seq in [from, to] (see version-json.ts), in seq order,
   * values spliced in as stored text; those whose namespace `skip` names are left out.
   */
  *committedJson(from: number, to: number, skip?: string): Generator<string> {
    const f = this.#fetch;
    const skipPrefix = skip === undefined ? undefined : namespacePrefix(skip);
    for (const json of this.#committed(from, to, (vkey, r) => (skipPrefix !== undefined && vkey.startsWith(skipPrefix) ? undefined : versionJson(f, vkey, r)))) {
      if (json !== undefined) yield json;
    }
  }

  #committed<T>(from: number, to: number, make: (vkey: string, r: VersionRecord) => T): Iterable<T> {
    checkSeqBound('from', from);
    checkSeqBound('to', to);
    return committedRange(this.#fetch, this.#tree, Math.max(1, Math.ceil(from)), Math.min(this.#seq, Math.floor(to)), make);
  }

  /** The JSON (as {@link committedJson}) of every version of a key, oldest first. O(h + value bytes). */
  historyJson(namespace: string, key: string): Array<{ readonly versionId: string; readonly json: () => string }> {
    const f = this.#fetch;
    return recordsOf(f, this.#tree, keyPrefix(namespace, key), (vkey, r) => ({ versionId: decodeVersionKey(vkey).versionId, json: () => versionJson(f, vkey, r) }));
  }

  /** The raw ids of a key's versions, newest first, in `into` or a bigger buffer (see {@link idBytesOf}). O(h). */
  idBytes(namespace: string, key: string, into: Uint8Array): IdBytes {
    return idBytesOf(this.#tree, keyPrefix(namespace, key), into);
  }

  /** The ids of a key's versions, oldest first (none for an unknown key). Reads no value. O(h). */
  ids(namespace: string, key: string): string[] {
    return idsOf(this.#tree, keyPrefix(namespace, key));
  }
}
