/**
 * `verifyVersions`: the integrity check of a version store's records (see
 * version-records.ts for their layout), streamed over the tree in slices of bounded
 * synchronous work, so that puts and gets go on being served while it runs.
 *
 * ## What is checked
 * Three range scans, in this order (each record is read once by its scan; a few gets
 * follow references):
 * 1. Change feed (`S`): the seqs are exactly 1…L (L: the last seq when the verify
 *    started), each names a version record that exists, decodes its seq, and has that
 *    seq as its own.
 * 2. Values (`X`): each decodes; its text hashes to its id, or the version record it
 *    points at (its holder) exists, decodes, has that value id and holds a text inline.
 *    The holder's text is hashed by scan 3 when it reads the holder (not twice); it is
 *    hashed here only for a holder committed after the verify started.
 * 3. Versions (`V`), one key at a time (newest first):
 *    - the key and the record decode; the version id equals `versionIdOf` of its fields;
 *    - its seq has its change-feed record (checked against the seqs scan 1 saw), and no
 *      other version record has the same seq; a version committed during the verify
 *      (seq > L) is checked afterwards by one get of its `S` record, against the last
 *      seq then;
 *    - chains: every non-null previousVersion is a version of the same key with a
 *      strictly earlier clock stamp (wall, logical). Both import (predecessor stored or
 *      earlier in the batch) and replication (orphans are never stored) keep this
 *      invariant, and with it the oldest version of every key has a null
 *      previousVersion. Several versions may have a null one (keys made independently on
 *      two nodes and merged, a write after a reset), and several may name the same one
 *      (replicated forks): neither "one root" nor "no fork" is a rule, so neither is
 *      checked;
 *    - flag "current at commit": set exactly when the version's seq is below the seq of
 *      every version of its key later in clock order (what `commit` computed);
 *    - its value: an inline text hashes to its value id; a value by reference has its
 *      value record, and that record passed scan 2 (else each version sharing it is
 *      reported). The text's JSON syntax is not parsed again: a text hashing to its id
 *      is the very text that was canonicalized when it was written.
 * Counts: `keys` distinct keys, `versions` version records, `values` value records
 * (each distinct value stored is checked once).
 *
 * Not checked: that an inline version is named by its value's record (a missing pointer
 * costs only deduplication, never a read); versions that share by reference a holder
 * whose inline text is damaged are not each reported (the holder is); nothing of the
 * tree's own structure beyond what the scans read (the engine checks every block's CRC
 * as it reads it).
 *
 * ## Damage and concurrency
 * Damage found in records is a {@link VerifyProblem}, never thrown. A CorruptionError
 * from the engine (a block failing its checksum) is one too: it names the file and
 * offset, the scan resumes past the damaged block (by seeking to successively larger
 * key prefixes after the last record read) and says which range went unchecked, or stops
 * that scan when nothing after it can be read. Other errors (I/O, a closed tree) throw.
 *
 * Cursors are synchronous and die with every write or install: each slice makes its
 * own and seeks past the last record done. Records are never rewritten or removed, so a
 * write during the verify only adds records; those may or may not be seen, and every
 * check above holds for any mix of records that existed at the start and records added
 * meanwhile (a predecessor is older than its successor, so it sorts after it and is
 * still ahead of the scan; a value record is written with or before its first user).
 *
 * Browser-safe: no Node module is used.
 */
import { formatHlc, InvalidArgumentError, valueIdOfCanonical, versionIdOf } from '@koru/engine';
import { CorruptionError } from './errors.js';
import type { LsmCursor, LsmTree } from './lsm/lsm-tree.js';
import { bytesKey } from './lsm/types.js';
import type { VerifyProblem, VerifyReport } from './types.js';
import {
  decodeSeqKey,
  decodeValueKey,
  decodeValueRecord,
  decodeVersionKey,
  decodeVersionKeySuffix,
  decodeVersionRecord,
  keyPrefix,
  prefixEnd,
  seqKey,
  TAG_SEQ,
  TAG_VALUE,
  TAG_VERSION,
  valueKey,
  versionRecordSeq,
} from './version-records.js';
import { lastSeq } from './version-store-reads.js';

/** Options of {@link verifyVersions}. */
export interface VerifyVersionsOptions {
  /** Most ms of synchronous work between two yields (default 8); at least one record a slice. */
  readonly sliceMs?: number;
  /** Told the counts so far after each slice and at the end. */
  readonly onProgress?: (p: { versions: number; values: number }) => void;
  /** Awaited between slices (default: a macrotask, so queued I/O and timers run). */
  readonly yieldTo?: () => Promise<void>;
}

/** Names a record by its key, for problems that cannot name a version. */
function describeKey(k: string): string {
  try {
    if (k.charCodeAt(0) === 0x56) {
      const f = decodeVersionKey(k);
      return `version ${f.versionId} of ${f.namespace}/${f.key}`;
    }
    if (k.charCodeAt(0) === 0x53) return `change ${decodeSeqKey(k)}`;
    if (k.charCodeAt(0) === 0x58) return `value ${decodeValueKey(k)}`;
  } catch {
    // Not a whole key (a resume point): shown in hex below.
  }
  let s = '';
  for (let i = 0; i < k.length && i < 80; i++) s += k.charCodeAt(i).toString(16).padStart(2, '0');
  return `key 0x${s}${k.length > 80 ? '…' : ''}`;
}

/** Names a resume point: a key just past a record (that record included), or a record's key (excluded). */
function describeBound(k: string): string {
  const trimmed = k.replace(/\u0000+$/, '');
  if (trimmed !== k && !describeKey(trimmed).startsWith('key 0x')) return `${describeKey(trimmed)} included`;
  return `${describeKey(k)} excluded`;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

// Fingerprints let a scan check what another scan read without a get per record (a
// get lands in a random block: measured 5x the cost of the rest of the work). A
// fingerprint that matches is taken as a match (damage escapes it with odds of 2^-32 for
// a change-feed record, 2^-52 for a value pointer); one that does not is checked again
// exactly, by gets, before anything is reported.
const M1 = 0x5bd1e995;
const M2 = 0x85ebca6b;

/** A 32-bit mix of a binary string's char codes, from state `h`. */
function mixKey(k: string, h: number, m: number): number {
  for (let i = 0; i < k.length; i++) {
    h = Math.imul(h ^ k.charCodeAt(i), m);
    h ^= h >>> 15;
  }
  return h;
}

/** The same mix over bytes (equal to {@link mixKey} of their binary string). */
function mixBytes(b: Uint8Array, h: number, m: number): number {
  for (let i = 0; i < b.length; i++) {
    h = Math.imul(h ^ b[i]!, m);
    h ^= h >>> 15;
  }
  return h;
}

/** The 52-bit fingerprint of a value pointer: its value id and its holder's key. */
function pointerPrint(id: string, holder: string): number {
  const h1 = mixKey(holder, mixKey(id, 0x9747b28c, M1), M1) >>> 0;
  const h2 = mixKey(holder, mixKey(id, 0x2f1e3d4c, M2), M2) >>> 12;
  return h1 * 1048576 + h2;
}

/** Runs `f`; a CorruptionError it throws becomes its message (anything else is rethrown). */
function damageOf(f: () => void): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (e instanceof CorruptionError) return e.message;
    throw e;
  }
}

/** The verify's state: counts, problems, what scan 1 and 2 learned for scan 3, the slicing. */
class Verifier {
  readonly tree: LsmTree;
  readonly problems: VerifyProblem[] = [];
  versions = 0;
  values = 0;
  keys = 0;
  /** The last seq when the verify started: records with a greater one were added meanwhile. */
  startSeq = 0;
  /** True when the last seq could not be read at the start (scan 1 then reads every change-feed record). */
  seqUnknown = false;
  /** Seqs with a change-feed record, as ranges [starts[i], ends[i]]; `ranks[i]`: seqs before range i. */
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  readonly ranks: number[] = [];
  /** One bit per change-feed record (by rank): a version record with that seq was seen. */
  seen = new Uint8Array(0);
  /** By rank: the fingerprint of the version key each change-feed record names. */
  seqPrints = new Uint32Array(1024);
  seqCount = 0;
  /** Seqs whose change-feed record was checked exactly (each is, at most once). */
  readonly seqsChecked = new Set<number>();
  /** Fingerprints of the value pointers scan 2 read (sorted once it ends), and which scan 3 met. */
  pointers = new Float64Array(1024);
  pointerCount = 0;
  pointerMet = new Uint8Array(0);
  /** Versions committed during the verify: their change-feed record is checked at the end. */
  readonly late: Array<{ readonly seq: number; readonly vkey: string; readonly ns: string; readonly key: string; readonly id: string }> = [];
  /** Value ids whose value record failed scan 2, with why. */
  readonly badValues = new Map<string, string>();
  readonly #sliceMs: number;
  readonly #yieldTo: () => Promise<void>;
  readonly #onProgress: ((p: { versions: number; values: number }) => void) | undefined;
  #deadline = 0;

  constructor(tree: LsmTree, options: VerifyVersionsOptions) {
    const sliceMs = options.sliceMs ?? 8;
    if (typeof sliceMs !== 'number' || !(sliceMs >= 0)) throw new InvalidArgumentError(`sliceMs must be a number ≥ 0, not ${String(sliceMs)}`);
    this.tree = tree;
    this.#sliceMs = sliceMs;
    this.#yieldTo = options.yieldTo ?? (() => new Promise<void>((r) => setTimeout(r, 0)));
    this.#onProgress = options.onProgress;
    this.#deadline = performance.now() + sliceMs;
  }

  report(namespace: string, key: string, versionId: string, problem: string): void {
    this.problems.push({ namespace, key, versionId, problem });
  }

  /** True once this slice's time is spent. */
  due(): boolean {
    return performance.now() >= this.#deadline;
  }

  /** Ends a slice: progress told, then the caller's yield; the next slice starts. */
  async pause(): Promise<void> {
    this.progress();
    await this.#yieldTo();
    this.#deadline = performance.now() + this.#sliceMs;
  }

  progress(): void {
    this.#onProgress?.({ versions: this.versions, values: this.values });
  }

  /**
   * Visits every record in [from, end) in key order, a slice at a time. `visit` reports
   * its own problems; a CorruptionError here comes from the cursor (a damaged block).
   * `onSkip` is told when records were skipped over damage (the scan's state for the
   * records in between is then incomplete).
   */
  async scan(from: string, end: string, what: string, visit: (k: string, v: Uint8Array) => void, onSkip?: () => void): Promise<void> {
    let at = from;
    for (;;) {
      let last: string | undefined;
      let c: LsmCursor | undefined;
      try {
        c = this.tree.cursor();
        c.seek(at);
        for (;;) {
          if (!c.valid()) return;
          const k = c.key();
          if (k >= end) return;
          visit(k, c.value());
          last = k;
          if (this.due()) break;
          c.next();
        }
      } catch (e) {
        if (!(e instanceof CorruptionError)) throw e;
        const after = last ?? at;
        const resume = this.#resumePoint(after, end);
        const where = last === undefined ? `from ${describeKey(at)}` : `after ${describeKey(last)}`;
        this.report('', '', '', `${what} ${where} are unreadable: ${e.message}; ${resume === undefined ? `the rest of the ${what} was not checked` : `those up to ${describeBound(resume)} were not checked`}`);
        onSkip?.();
        if (resume === undefined) return;
        at = resume;
        await this.pause();
        continue;
      }
      at = last + '\u0000';
      await this.pause();
    }
  }

  /**
   * The first point after `after` where a cursor can be placed again: the end of ever
   * shorter prefixes of `after` (skipping its key's remaining records, then wider
   * ranges). Undefined when none before `end` can be read.
   */
  #resumePoint(after: string, end: string): string | undefined {
    let failed = after;
    let tried = '';
    for (let n = after.length + 1; n >= 1; n--) {
      let candidate: string;
      try {
        candidate = n > after.length ? after + '\u0000' : prefixEnd(after.slice(0, n));
      } catch {
        continue; // an all-0xFF prefix has no end: a shorter one will
      }
      if (candidate >= end) break;
      if (candidate === tried) continue;
      tried = candidate;
      if (this.#seekable(candidate)) return this.#bisect(failed, candidate);
      failed = candidate;
    }
    // Past the last prefix: the least seekable point before the range's end, if any.
    if (!this.#seekable(end)) return undefined;
    const k = this.#bisect(failed, end);
    return k < end ? k : undefined;
  }

  /** True when a cursor can be placed at `k` (the block holding it reads). */
  #seekable(k: string): boolean {
    try {
      const c = this.tree.cursor();
      c.seek(k);
      c.valid();
      return true;
    } catch (e) {
      if (!(e instanceof CorruptionError)) throw e;
      return false;
    }
  }

  /**
   * The least seekable point between `lo` (not seekable) and `hi` (seekable), as
   * fixed-width base-256 numbers: so only the damaged block's keys go unchecked, not all
   * those up to a prefix's end. A bounded number of tries.
   */
  #bisect(lo: string, hi: string): string {
    const width = Math.max(lo.length, hi.length) + 1;
    const toBig = (k: string): bigint => {
      let v = 0n;
      for (let i = 0; i < width; i++) v = (v << 8n) | BigInt(i < k.length ? k.charCodeAt(i) : 0);
      return v;
    };
    const fromBig = (v: bigint): string => {
      const codes = new Array<number>(width);
      for (let i = width - 1; i >= 0; i--) {
        codes[i] = Number(v & 255n);
        v >>= 8n;
      }
      return String.fromCharCode(...codes);
    };
    let a = toBig(lo);
    let b = toBig(hi);
    let best = hi;
    for (let i = 0; i < 128 && b - a > 1n; i++) {
      const m = (a + b) >> 1n;
      const k = fromBig(m);
      if (this.#seekable(k)) {
        b = m;
        best = k;
      } else a = m;
    }
    // Without the padding when that still reads (it names a whole key in the report).
    const trimmed = best.replace(/\u0000+$/, '');
    return trimmed !== best && trimmed > lo && this.#seekable(trimmed) ? trimmed : best;
  }

  /** Notes a change-feed record of seq `s` (seqs come in ascending order) naming version key `vkey`. */
  addSeq(s: number, vkey: Uint8Array): void {
    if (this.seqCount === this.seqPrints.length) {
      const grown = new Uint32Array(this.seqCount * 2);
      grown.set(this.seqPrints);
      this.seqPrints = grown;
    }
    this.seqPrints[this.seqCount++] = mixBytes(vkey, 0x9747b28c, M1) >>> 0;
    const n = this.ends.length;
    if (n > 0 && this.ends[n - 1] === s - 1) this.ends[n - 1] = s;
    else {
      this.starts.push(s);
      this.ends.push(s);
    }
  }

  /** After scan 1: ranks of the ranges, and the bitmap of seqs seen on versions. */
  seal(): void {
    let total = 0;
    for (let i = 0; i < this.starts.length; i++) {
      this.ranks.push(total);
      total += this.ends[i]! - this.starts[i]! + 1;
    }
    this.seen = new Uint8Array((total >> 3) + 1);
  }

  /** Notes a value pointer read by scan 2. */
  addPointer(id: string, holder: string): void {
    if (this.pointerCount === this.pointers.length) {
      const grown = new Float64Array(this.pointerCount * 2);
      grown.set(this.pointers);
      this.pointers = grown;
    }
    this.pointers[this.pointerCount++] = pointerPrint(id, holder);
  }

  /** After scan 2: pointers sorted for lookups. */
  sealPointers(): void {
    this.pointers = this.pointers.slice(0, this.pointerCount).sort();
    this.pointerMet = new Uint8Array(this.pointerCount);
  }

  /** Scan 3 met holder `vkey` of value `id`: its pointer (one not met yet) is marked. */
  meetHolder(id: string, vkey: string): void {
    const p = pointerPrint(id, vkey);
    const a = this.pointers;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid]! < p) lo = mid + 1;
      else hi = mid;
    }
    for (; lo < a.length && a[lo] === p; lo++) {
      if (this.pointerMet[lo] === 0) {
        this.pointerMet[lo] = 1;
        return;
      }
    }
  }

  /**
   * Checks change `s`'s record exactly (by gets): it names a version record that exists
   * and was committed as change `s`. Once per seq.
   */
  checkSeq(s: number): void {
    if (this.seqsChecked.has(s)) return;
    this.seqsChecked.add(s);
    const tree = this.tree;
    let names = { namespace: '', key: '', versionId: '' };
    const damage = damageOf(() => {
      const sb = tree.get(seqKey(s));
      if (sb === undefined) {
        this.report('', '', '', `change ${s} has no change-feed record`);
        return;
      }
      const vkey = bytesKey(sb);
      try {
        names = decodeVersionKey(vkey);
      } catch (e) {
        this.report('', '', '', `change ${s} names no version key (${describeKey(vkey)}): ${messageOf(e)}`);
        return;
      }
      const vb = tree.get(vkey);
      if (vb === undefined) {
        this.report(names.namespace, names.key, names.versionId, `change ${s} names a version record that does not exist`);
        return;
      }
      let seq: number | undefined;
      try {
        seq = versionRecordSeq(vb).seq;
      } catch {
        seq = undefined; // a record that does not decode is reported by scan 3
      }
      if (seq !== undefined && seq !== s) this.report(names.namespace, names.key, names.versionId, `change ${s} names a version committed as change ${seq}`);
    });
    if (damage !== undefined) this.report(names.namespace, names.key, names.versionId, `change ${s}: its records are unreadable: ${damage}`);
  }

  /** The rank of seq `s` among the change-feed records scan 1 saw, or -1. */
  rank(s: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (s < this.starts[mid]!) hi = mid - 1;
      else if (s > this.ends[mid]!) lo = mid + 1;
      else return this.ranks[mid]! + (s - this.starts[mid]!);
    }
    return -1;
  }

  /** Why value record `bytes` of value `id` is bad, or undefined when good: the exact check, by gets. */
  valueProblem(id: string, bytes: Uint8Array): string | undefined {
    let why: string | undefined;
    const damage = damageOf(() => {
      const vr = decodeValueRecord(bytes);
      if (vr.text !== null) {
        if (valueIdOfCanonical(vr.text) !== id) why = 'its text does not hash to its id';
        return;
      }
      const hb = this.tree.get(vr.holder);
      if (hb === undefined) {
        why = `it points at ${describeKey(vr.holder)}, which does not exist`;
        return;
      }
      const h = decodeVersionRecord(hb);
      if (h.valueId !== id || h.valueText === null) why = `it points at ${describeKey(vr.holder)}, which does not hold it inline`;
      else if (valueIdOfCanonical(h.valueText) !== id) why = `the text inline in ${describeKey(vr.holder)} does not hash to it`;
    });
    return damage ?? why;
  }
}

/** Scan 1: the change feed, 1…startSeq. */
async function verifySeqs(v: Verifier): Promise<void> {
  let next = 1;
  // Each record's version key is fingerprinted here and compared by scan 3 (see Verifier.checkSeq for the exact check).
  const visit = (k: string, bytes: Uint8Array): void => {
    let s: number;
    try {
      s = decodeSeqKey(k);
    } catch (e) {
      v.report('', '', '', `a change-feed record's key is malformed (${describeKey(k)}): ${messageOf(e)}`);
      return;
    }
    if (s < next) {
      v.report('', '', '', `change ${s}: no change has seq 0`);
      return;
    }
    if (s > next) v.report('', '', '', s === next + 1 ? `change ${next} has no change-feed record` : `changes ${next}–${s - 1} have no change-feed record`);
    next = s + 1;
    v.addSeq(s, bytes);
  };
  const end = v.startSeq >= Number.MAX_SAFE_INTEGER ? String.fromCharCode(TAG_SEQ.charCodeAt(0) + 1) : seqKey(v.startSeq + 1);
  await v.scan(TAG_SEQ, end, 'change-feed records', visit);
  if (!v.seqUnknown && next <= v.startSeq) v.report('', '', '', next === v.startSeq ? `change ${next} has no change-feed record` : `changes ${next}–${v.startSeq} have no change-feed record`);
  v.seal();
}

/** Scan 2: every value record. */
async function verifyValues(v: Verifier): Promise<void> {
  const visit = (k: string, bytes: Uint8Array): void => {
    v.values++;
    let id: string;
    try {
      id = decodeValueKey(k);
    } catch (e) {
      v.report('', '', '', `a value record's key is malformed (${describeKey(k)}): ${messageOf(e)}`);
      return;
    }
    let why: string | undefined;
    try {
      const vr = decodeValueRecord(bytes);
      // A pointer is checked when scan 3 meets its holder (and hashes the holder's text).
      if (vr.text === null) v.addPointer(id, vr.holder);
      else if (valueIdOfCanonical(vr.text) !== id) why = 'its text does not hash to its id';
    } catch (e) {
      if (!(e instanceof CorruptionError)) throw e;
      why = `it does not decode: ${e.message}`;
    }
    if (why === undefined) return;
    v.badValues.set(id, why);
    v.report('', '', '', `value record ${id}: ${why}`);
  };
  await v.scan(TAG_VALUE, String.fromCharCode(TAG_VALUE.charCodeAt(0) + 1), 'value records', visit);
  v.sealPointers();
}

/** After scan 3: the value pointers whose holder it did not meet, checked exactly (a second scan, only when there are some). */
async function verifyUnmetPointers(v: Verifier): Promise<void> {
  const unmet = new Set<number>();
  for (let i = 0; i < v.pointerMet.length; i++) if (v.pointerMet[i] === 0) unmet.add(v.pointers[i]!);
  if (unmet.size === 0) return;
  const visit = (k: string, bytes: Uint8Array): void => {
    let id: string;
    let holder: string;
    try {
      id = decodeValueKey(k);
      const vr = decodeValueRecord(bytes);
      if (vr.holder === null) return;
      holder = vr.holder;
    } catch {
      return; // reported by scan 2
    }
    if (!unmet.has(pointerPrint(id, holder))) return;
    const why = v.valueProblem(id, bytes);
    if (why === undefined) return;
    let names = { namespace: '', key: '', versionId: '' };
    try {
      names = decodeVersionKey(holder);
    } catch {
      // decodeValueRecord checked it
    }
    v.report(names.namespace, names.key, names.versionId, `value record ${id}: ${why}`);
  };
  await v.scan(TAG_VALUE, String.fromCharCode(TAG_VALUE.charCodeAt(0) + 1), 'value records (second look at pointers)', visit);
}

/** After scan 3: change-feed records whose version scan 3 did not meet, checked exactly. */
async function verifyUnmetSeqs(v: Verifier): Promise<void> {
  for (let i = 0; i < v.starts.length; i++) {
    for (let s = v.starts[i]!; s <= v.ends[i]!; s++) {
      const rank = v.ranks[i]! + (s - v.starts[i]!);
      if ((v.seen[rank >> 3]! & (1 << (rank & 7))) === 0) v.checkSeq(s);
      if ((rank & 1023) === 0 && v.due()) await v.pause();
    }
  }
}

/** The key scan 3 is in: its names, and what its newer versions left to check. */
interface KeyState {
  prefix: string;
  namespace: string;
  key: string;
  /** The smallest seq of its versions seen so far (all later in clock order). */
  minSeq: number;
  /** Predecessors named but not met yet (they must come later: older), with their successors' stamps. */
  readonly pending: Map<string, Array<{ readonly id: string; readonly wall: number; readonly logical: number }>>;
  /** Records of it were skipped over damage: its chain and flag checks are incomplete. */
  partial: boolean;
}

/** Scan 3: every version record, one key at a time. */
async function verifyVersionRecords(v: Verifier): Promise<void> {
  const tree = v.tree;
  let ks: KeyState = { prefix: '', namespace: '', key: '', minSeq: Infinity, pending: new Map(), partial: false };
  const finishKey = (): void => {
    if (!ks.partial) {
      for (const [prev, succs] of ks.pending) {
        for (const s of succs) v.report(ks.namespace, ks.key, s.id, `its previous version ${prev} is not an earlier version of this key`);
      }
    }
    ks.pending.clear();
  };
  const visit = (k: string, bytes: Uint8Array): void => {
    v.versions++;
    let wall: number;
    let logical: number;
    let node: string;
    let id: string;
    const sameKey = ks.prefix.length > 0 && k.startsWith(ks.prefix);
    try {
      if (sameKey) ({ wall, logical, node, versionId: id } = decodeVersionKeySuffix(k, ks.prefix.length));
      else {
        finishKey();
        ks = { prefix: '', namespace: '', key: '', minSeq: Infinity, pending: new Map(), partial: false };
        const f = decodeVersionKey(k);
        ({ wall, logical, node, versionId: id } = f);
        ks = { prefix: keyPrefix(f.namespace, f.key), namespace: f.namespace, key: f.key, minSeq: Infinity, pending: new Map(), partial: false };
        v.keys++;
      }
    } catch (e) {
      // Within a known key, its names are known; otherwise none can be given.
      v.report(sameKey ? ks.namespace : '', sameKey ? ks.key : '', '', `a version record's key is malformed (${describeKey(k)}): ${messageOf(e)}`);
      return;
    }
    const { namespace, key } = ks;
    const report = (problem: string): void => v.report(namespace, key, id, problem);
    let r: ReturnType<typeof decodeVersionRecord>;
    try {
      r = decodeVersionRecord(bytes);
    } catch (e) {
      report(`its record does not decode: ${messageOf(e)}`);
      // Its predecessor cannot be known: the key's chain checks would be guesses.
      ks.partial = true;
      return;
    }
    const hlc = formatHlc({ wall, logical });
    if (versionIdOf({ namespace, key, valueId: r.valueId, previousVersion: r.previousVersion, hlc, node, deleted: r.deleted }) !== id) {
      report('its version id does not match its content');
    }
    // Change feed.
    const s = r.seq;
    if (s < 1) report(`its seq ${s} is not a change number (they start at 1)`);
    else if (s > v.startSeq) v.late.push({ seq: s, vkey: k, ns: namespace, key, id });
    else {
      const rank = v.rank(s);
      if (rank < 0) report(`its change ${s} has no change-feed record`);
      else if ((v.seen[rank >> 3]! & (1 << (rank & 7))) !== 0) report(`another version record also has seq ${s}`);
      else {
        v.seen[rank >> 3]! |= 1 << (rank & 7);
        if (v.seqPrints[rank] !== mixKey(k, 0x9747b28c, M1) >>> 0) {
          report(`its change ${s} names another version record`);
          v.checkSeq(s);
        }
      }
    }
    // Versions later in clock order came first: current at commit iff committed before all of them.
    if (!ks.partial && r.currentAtCommit !== s < ks.minSeq) {
      report(r.currentAtCommit ? `it is flagged current at commit, but a version later in clock order was committed before it` : `it is not flagged current at commit, but every version later in clock order was committed after it`);
    }
    if (s < ks.minSeq) ks.minSeq = s;
    // Chains: successors (newer) waited for this one.
    const succs = ks.pending.get(id);
    if (succs !== undefined) {
      ks.pending.delete(id);
      for (const x of succs) {
        if (!(x.wall > wall || (x.wall === wall && x.logical > logical))) v.report(namespace, key, x.id, `its previous version ${id} has a clock stamp not earlier than its own`);
      }
    }
    if (r.previousVersion !== null) {
      const list = ks.pending.get(r.previousVersion);
      if (list === undefined) ks.pending.set(r.previousVersion, [{ id, wall, logical }]);
      else list.push({ id, wall, logical });
    }
    // Value.
    if (r.deleted) return;
    const valueId = r.valueId!;
    if (r.valueText !== null) {
      if (valueIdOfCanonical(r.valueText) !== valueId) report(`its inline value does not hash to its value id ${valueId}`);
      v.meetHolder(valueId, k);
      return;
    }
    const bad = v.badValues.get(valueId);
    if (bad !== undefined) {
      report(`its value ${valueId} is unusable: ${bad}`);
      return;
    }
    const damage = damageOf(() => {
      const xb = tree.get(valueKey(valueId));
      if (xb === undefined) report(`its value ${valueId} is missing: no value record`);
      else if (s > v.startSeq) {
        // Committed during the verify: its value record may be newer than scan 2.
        const why = v.valueProblem(valueId, xb);
        if (why !== undefined) report(`its value ${valueId} is unusable: ${why}`);
      }
    });
    if (damage !== undefined) report(`its value record ${valueId} is unreadable: ${damage}`);
  };
  await v.scan(TAG_VERSION, String.fromCharCode(TAG_VERSION.charCodeAt(0) + 1), 'version records', visit, () => {
    ks.partial = true;
  });
  finishKey();
}

/** Versions committed during the verify: each must be named by its change-feed record. */
function verifyLate(v: Verifier): void {
  if (v.late.length === 0) return;
  let last: number;
  try {
    last = lastSeq(v.tree);
  } catch (e) {
    if (!(e instanceof CorruptionError)) throw e;
    v.report('', '', '', `the last change could not be read: ${e.message}; ${v.late.length} versions committed during the verify were not checked against the change feed`);
    return;
  }
  const seqs = new Set<number>();
  for (const x of v.late) {
    const report = (problem: string): void => v.report(x.ns, x.key, x.id, problem);
    if (x.seq > last) report(`its seq ${x.seq} is past the last change (${last})`);
    else if (seqs.has(x.seq)) report(`another version record also has seq ${x.seq}`);
    else {
      seqs.add(x.seq);
      const damage = damageOf(() => {
        const sb = v.tree.get(seqKey(x.seq));
        if (sb === undefined || bytesKey(sb) !== x.vkey) report(`its change ${x.seq} has no change-feed record naming it`);
      });
      if (damage !== undefined) report(`its change ${x.seq}: the change-feed record is unreadable: ${damage}`);
    }
  }
}

/**
 * Verifies every record of the version store over `tree` (see the module doc for what
 * is checked and how concurrent writes are handled), yielding between slices of at most
 * `sliceMs` of work. Damage is reported in the result, never thrown.
 * @throws InvalidArgumentError for a bad `sliceMs`; the tree's I/O errors and ClosedError
 */
export async function verifyVersions(tree: LsmTree, options: VerifyVersionsOptions = {}): Promise<VerifyReport> {
  const v = new Verifier(tree, options);
  try {
    v.startSeq = lastSeq(tree);
  } catch (e) {
    if (!(e instanceof CorruptionError)) throw e;
    // Scan 1 then reads every change-feed record there is.
    v.report('', '', '', `the last change could not be found: ${e.message}`);
    v.startSeq = Number.MAX_SAFE_INTEGER;
    v.seqUnknown = true;
  }
  await verifySeqs(v);
  if (v.seqUnknown) v.startSeq = v.ends.length === 0 ? 0 : v.ends[v.ends.length - 1]!;
  await verifyValues(v);
  await verifyVersionRecords(v);
  await verifyUnmetSeqs(v);
  await verifyUnmetPointers(v);
  verifyLate(v);
  v.progress();
  return { ok: v.problems.length === 0, keys: v.keys, versions: v.versions, values: v.values, problems: v.problems };
}
