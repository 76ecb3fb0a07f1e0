/**
 * The state and machinery of `verifyVersions` (see version-verify.ts for what it
 * checks): slicing and yielding, range scans that resume after each slice and step over
 * damaged blocks, what the change-feed and value scans leave for the version scan
 * (seq ranges, fingerprints), and the exact checks by gets behind every fingerprint
 * that disagrees.
 *
 * Browser-safe: no Node module is used.
 */
import { InvalidArgumentError, valueIdOfCanonical } from '@koru/engine';
import { CorruptionError } from './errors.js';
import type { LsmCursor, LsmTree } from './lsm/lsm-tree.js';
import { bytesKey } from './lsm/types.js';
import type { VerifyProblem } from './types.js';
import { decodeSeqKey, decodeValueKey, decodeValueRecord, decodeVersionKey, prefixEnd, seqKey, versionRecordSeq } from './version-records.js';
import { isHorizon, prunedThroughSeq } from './horizon-records.js';

/** Options of `verifyVersions` (version-verify.ts). */
export interface VerifyVersionsOptions {
  /** Most ms of synchronous work between two yields (default 8); at least one record a slice. */
  readonly sliceMs?: number;
  /** Told the counts so far after each slice and at the end. */
  readonly onProgress?: (p: { versions: number; values: number }) => void;
  /** Awaited between slices (default: a macrotask, so queued I/O and timers run). */
  readonly yieldTo?: () => Promise<void>;
}

/** Names a record by its key, for problems that cannot name a version. */
export function describeKey(k: string): string {
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

/** The message of anything thrown. */
export const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

// Fingerprints let a scan check what another scan read without a get per record (a get
// lands in a random block). A fingerprint that matches is taken as a match; one that
// does not is checked again exactly, by gets, before anything is reported (see the
// module doc of version-verify.ts for the odds).
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

const SEED1 = 0x9747b28c;
const SEED2 = 0x2f1e3d4c;

/** The 32-bit fingerprint of a version key a change-feed record names (as {@link Verifier.addSeq} takes it from the bytes). */
export function seqPrint(vkey: string): number {
  return mixKey(vkey, SEED1, M1) >>> 0;
}

/** The 52-bit fingerprint of a value id. */
export function valuePrint(id: string): number {
  return (mixKey(id, SEED1, M1) >>> 0) * 1048576 + (mixKey(id, SEED2, M2) >>> 12);
}

/** What long loops need to cut themselves into slices. */
export interface Slicer {
  /** True once the slice's time is spent. */
  due(): boolean;
  /** Ends the slice (yields); the next one starts. */
  pause(): Promise<void>;
}

/** Prints sorted natively at a time, then merged, a slice bound checked per this many. */
const SORT_RUN = 16384;

/** A multiset of 52-bit fingerprints: filled, sealed (sorted), then looked up and met (each entry once). */
export class PrintSet {
  #prints = new Float64Array(1024);
  #count = 0;
  #met = new Uint8Array(0);

  /** Adds print `p` (before {@link seal}). */
  add(p: number): void {
    if (this.#count === this.#prints.length) {
      const grown = new Float64Array(this.#count * 2);
      grown.set(this.#prints);
      this.#prints = grown;
    }
    this.#prints[this.#count++] = p;
  }

  /**
   * Ends the filling: sorted for lookups, in slices (a sort of millions of prints in one
   * go would hold the thread for many slices' worth): runs sorted natively, then merged.
   */
  async seal(slicer: Slicer): Promise<void> {
    const n = this.#count;
    let src = this.#prints.slice(0, n);
    for (let i = 0; i < n; i += SORT_RUN) {
      src.subarray(i, Math.min(n, i + SORT_RUN)).sort();
      if (slicer.due()) await slicer.pause();
    }
    let dst = new Float64Array(n);
    for (let width = SORT_RUN; width < n; width *= 2) {
      for (let lo = 0; lo < n; lo += 2 * width) {
        const mid = Math.min(lo + width, n);
        const hi = Math.min(lo + 2 * width, n);
        let i = lo;
        let j = mid;
        let k = lo;
        while (k < hi) {
          for (const stop = Math.min(hi, k + SORT_RUN); k < stop; ) dst[k++] = j >= hi || (i < mid && src[i]! <= src[j]!) ? src[i++]! : src[j++]!;
          if (slicer.due()) await slicer.pause();
        }
      }
      [src, dst] = [dst, src];
    }
    this.#prints = src;
    this.#met = new Uint8Array(n);
  }

  /** The first index whose print is ≥ `p`. */
  #lower(p: number): number {
    const a = this.#prints;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid]! < p) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** True when `p` was added (after {@link seal}). */
  has(p: number): boolean {
    return this.#prints[this.#lower(p)] === p;
  }

  /** Marks one entry `p` not met yet, if any. */
  meet(p: number): void {
    const a = this.#prints;
    for (let i = this.#lower(p); i < a.length && a[i] === p; i++) {
      if (this.#met[i] === 0) {
        this.#met[i] = 1;
        return;
      }
    }
  }

  /** The prints of the entries never met (in slices). */
  async unmet(slicer: Slicer): Promise<Set<number>> {
    const out = new Set<number>();
    for (let i = 0; i < this.#met.length; i++) {
      if (this.#met[i] === 0) out.add(this.#prints[i]!);
      if ((i & 65535) === 65535 && slicer.due()) await slicer.pause();
    }
    return out;
  }
}

/** Runs `f`; a CorruptionError it throws becomes its message (anything else is rethrown). */
export function damageOf(f: () => void): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (e instanceof CorruptionError) return e.message;
    throw e;
  }
}

/** The verify's state: counts, problems, what scan 1 and 2 learned for scan 3, the slicing. */
export class Verifier implements Slicer {
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
  /** Seq ranges scan 1 could not read (damaged blocks), as pairs from, to. */
  readonly unread: number[] = [];
  /** One bit per change-feed record (by rank): a version record with that seq was seen. */
  seen = new Uint8Array(0);
  /** By rank: the fingerprint of the version key each change-feed record names. */
  seqPrints = new Uint32Array(1024);
  seqCount = 0;
  /** Seqs whose change-feed record was checked exactly (each is, at most once). */
  readonly seqsChecked = new Set<number>();
  /** Fingerprints of the ids of the value records scan 2 read and passed. */
  readonly valueIds = new PrintSet();
  /** Versions committed during the verify: their change-feed record is checked at the end. */
  readonly late: Array<{ readonly seq: number; readonly vkey: string; readonly ns: string; readonly key: string; readonly id: string }> = [];
  /** Value ids whose value record failed scan 2, with why. */
  readonly badValues = new Map<string, string>();
  /**
   * The greatest seq retention or a purge removed a version of (the manifest's
   * `prunedThroughSeq`): a change-feed record at or below it may name a removed version.
   * Read when asked: merges go on during the verify, and it only grows.
   */
  get prunedThroughSeq(): number {
    return prunedThroughSeq(this.tree);
  }
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

  /** Adds a problem (names empty when it concerns no one version). */
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

  /** Tells the counts so far. */
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
    this.seqPrints[this.seqCount++] = mixBytes(vkey, SEED1, M1) >>> 0;
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
      // Retention and purge leave the change records of what they removed (horizon-records.ts).
      if ((vb === undefined || isHorizon(vb)) && s <= this.prunedThroughSeq) return;
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

  /** True when seq `s` is in a range scan 1 could not read. */
  isUnread(s: number): boolean {
    for (let i = 0; i < this.unread.length; i += 2) if (s >= this.unread[i]! && s <= this.unread[i + 1]!) return true;
    return false;
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

  /** Why value record `bytes` of value `id` is bad, or undefined when good: the exact check. */
  valueProblem(id: string, bytes: Uint8Array): string | undefined {
    let why: string | undefined;
    const damage = damageOf(() => {
      if (valueIdOfCanonical(decodeValueRecord(bytes).text) !== id) why = 'its text does not hash to its id';
    });
    return damage ?? why;
  }
}
