/**
 * Decoding of one data block (or index partition, which has the same layout; see
 * segment-format.ts): its trailer checked once, then entries stepped through and
 * searched in place, without allocating per entry.
 */
import type { RandomAccessFile } from './io.js';
import { binaryString, corruption } from './segment-format.js';
import { getU32 } from './bytes.js';

const NO_BLOCK = new Uint8Array(0);

/** Up to this many bytes, {@link shortBinaryString} goes through a kept array. */
const SHORT_STRING_MAX = 128;
/** Kept arrays of char codes, one per length (filled, never resized: apply reads them whole). */
const codes: number[][] = [];

/**
 * {@link binaryString} for the short strings keys are: `String.fromCharCode.apply` over a
 * kept plain array of the right length is measured 30–60% faster (Node 20, 12–80 bytes)
 * than over a typed subarray, which also allocates a view per call.
 */
function shortBinaryString(bytes: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n > SHORT_STRING_MAX) return binaryString(bytes, start, end);
  let a = codes[n];
  if (a === undefined) codes[n] = a = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) a[i] = bytes[start + i]!;
  return String.fromCharCode.apply(null, a);
}

/**
 * Decodes the entries of one checked data block: a position in the block and the entry
 * there. The current key is kept as bytes in a reused buffer (the shared prefix is
 * already in place from the previous entry), so stepping and comparing allocate
 * nothing; a key string is built only when asked for.
 */
export class BlockScan {
  /** The block (its bytes, without the CRC). */
  block: Uint8Array = NO_BLOCK;
  /** The current entry's kind and key length. */
  kind = 0;
  keyLength = 0;
  #key = new Uint8Array(128);
  #offset = 0;
  #dataEnd = 0;
  #restarts = 0;
  #next = 0;
  #valueStart = 0;
  #valueLength = 0;
  /** Bytes the current key shares with the previous one. */
  #shared = 0;
  /** The previous key as a string, when it was asked for (its prefix starts the next one). */
  #previousString: string | undefined;
  #string: string | undefined;
  /** Length of the common prefix of the current key and the last target compared (see {@link compare}). */
  #matched = 0;
  /** Where the last slow-path varint ended. */
  #p = 0;

  /**
   * @param file named in damage reports (a scan reused for another segment's blocks is
   *   pointed at that segment's file: see SegmentReader's cursor reuse).
   */
  constructor(public file: RandomAccessFile) {}

  /**
   * Checks a block's trailer once, when it is read from the file: at least one restart,
   * the first at 0, ascending, inside the entries. Later decoding relies on it.
   * @throws CorruptionError
   */
  static check(block: Uint8Array, file: RandomAccessFile, offset: number): void {
    const n = block.length;
    const count = n >= 4 ? getU32(block, n - 4) : 0;
    const dataEnd = n - 4 - 4 * count;
    if (count < 1 || dataEnd < 4) throw corruption(file, offset, 'malformed block trailer');
    let prev = -1;
    for (let i = 0; i < count; i++) {
      const r = getU32(block, dataEnd + 4 * i);
      if ((i === 0 && r !== 0) || r <= prev || r >= dataEnd) throw corruption(file, offset, 'malformed restart points');
      prev = r;
    }
  }

  /** Starts on a checked block (at `offset` in the file), before its first entry. */
  reset(block: Uint8Array, offset: number): void {
    const n = block.length;
    const count = getU32(block, n - 4);
    this.block = block;
    this.#offset = offset;
    this.#restarts = count;
    this.#dataEnd = n - 4 - 4 * count;
    this.#next = 0;
    this.keyLength = 0;
    this.#string = undefined;
  }

  /** Decodes the next entry; false at the end of the block (the scan is then unchanged). */
  step(): boolean {
    let p = this.#next;
    if (p >= this.#dataEnd) return false;
    const b = this.block;
    // Lengths below 128 take one byte: the common case is decoded inline.
    let shared = b[p]!;
    if (shared < 128) p++;
    else {
      shared = this.#varint(p);
      p = this.#p;
    }
    let unshared = b[p]!;
    if (unshared < 128) p++;
    else {
      unshared = this.#varint(p);
      p = this.#p;
    }
    let valueLength = b[p]!;
    if (valueLength < 128) p++;
    else {
      valueLength = this.#varint(p);
      p = this.#p;
    }
    const kind = b[p++]!;
    const end = p + unshared + valueLength;
    if (shared > this.keyLength || kind > 1 || end > this.#dataEnd) throw corruption(this.file, this.#offset, 'malformed entry');
    const keyLength = shared + unshared;
    let key = this.#key;
    if (keyLength > key.length) {
      const grown = new Uint8Array(Math.max(keyLength, key.length * 2));
      grown.set(key.subarray(0, shared));
      this.#key = key = grown;
    }
    for (let i = 0; i < unshared; i++) key[shared + i] = b[p + i]!;
    this.keyLength = keyLength;
    this.#shared = shared;
    this.#previousString = this.#string;
    this.#string = undefined;
    this.kind = kind;
    this.#valueStart = p + unshared;
    this.#valueLength = valueLength;
    this.#next = end;
    return true;
  }

  /**
   * Moves to the first entry whose key is ≥ `target`: binary search over the restart
   * points, then at most one interval decoded. False when every key is below it.
   */
  seek(target: string): boolean {
    // Keys between two bounds share with the target at least the smaller of the bounds'
    // common prefixes with it: comparisons start there (keys often share long prefixes).
    let lo = 0;
    let hi = this.#restarts - 1;
    let matchedLo = 0;
    let matchedHi = 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.#compareRestart(mid, target, Math.min(matchedLo, matchedHi)) <= 0) {
        lo = mid;
        matchedLo = this.#matched;
      } else {
        hi = mid - 1;
        matchedHi = this.#matched;
      }
    }
    // Then one interval, decoded in place: an entry's key is never copied unless it is
    // the answer. The previous key (below the target) first differs from it at `m`; a
    // key sharing more than `m` bytes with it differs at the same byte, so is below too;
    // a key sharing at most `m` agrees with the target through its shared bytes, so only
    // its suffix (in the block) needs comparing — and the answer's key is the target's
    // first `shared` bytes followed by its suffix.
    const b = this.block;
    const dataEnd = this.#dataEnd;
    let p = getU32(b, dataEnd + 4 * lo);
    let m = -1;
    let previousLength = 0;
    while (p < dataEnd) {
      let shared = b[p]!;
      if (shared < 128) p++;
      else {
        shared = this.#varint(p);
        p = this.#p;
      }
      let unshared = b[p]!;
      if (unshared < 128) p++;
      else {
        unshared = this.#varint(p);
        p = this.#p;
      }
      let valueLength = b[p]!;
      if (valueLength < 128) p++;
      else {
        valueLength = this.#varint(p);
        p = this.#p;
      }
      const kind = b[p++]!;
      const end = p + unshared + valueLength;
      if (shared > previousLength || kind > 1 || end > dataEnd || (m < 0 && shared !== 0)) throw corruption(this.file, this.#offset, 'malformed entry');
      const length = shared + unshared;
      previousLength = length;
      if (m >= 0 && shared > m) {
        p = end;
        continue;
      }
      // Bytes [0, from) agree with the target: the restart key's through matchedLo (its
      // comparison in the binary search), a later key's through its shared prefix.
      const from = m < 0 ? Math.min(matchedLo, length) : shared;
      const n = Math.min(length, target.length);
      let d = 0;
      let i = from;
      for (; i < n; i++) {
        d = b[p + i - shared]! - target.charCodeAt(i);
        if (d !== 0) break;
      }
      if (d === 0) d = i < n ? 0 : length - target.length;
      if (d >= 0) {
        this.#settle(target, shared, p, unshared, kind, valueLength, end);
        return true;
      }
      m = i;
      p = end;
    }
    this.#next = dataEnd;
    this.keyLength = 0;
    this.#string = undefined;
    return false;
  }

  /** Makes the entry a seek found current: its key is the target's first `shared` bytes, then its suffix at `at`. */
  #settle(target: string, shared: number, at: number, unshared: number, kind: number, valueLength: number, end: number): void {
    const keyLength = shared + unshared;
    let key = this.#key;
    if (keyLength > key.length) this.#key = key = new Uint8Array(Math.max(keyLength, key.length * 2));
    for (let i = 0; i < shared; i++) key[i] = target.charCodeAt(i);
    const b = this.block;
    for (let i = 0; i < unshared; i++) key[shared + i] = b[at + i]!;
    this.keyLength = keyLength;
    this.#shared = shared;
    // keyString builds the key from its previous string's first `shared` chars: the target's.
    this.#previousString = shared > 0 ? target : undefined;
    this.#string = undefined;
    this.kind = kind;
    this.#valueStart = at + unshared;
    this.#valueLength = valueLength;
    this.#next = end;
  }

  /**
   * The current key compared with `target` (negative, 0, positive), byte by byte from
   * `from` (the caller knows the bytes before agree). Leaves in #matched where they
   * first differ.
   */
  compare(target: string, from = 0): number {
    const key = this.#key;
    const len = this.keyLength;
    const n = Math.min(len, target.length);
    for (let i = from; i < n; i++) {
      const d = key[i]! - target.charCodeAt(i);
      if (d !== 0) {
        this.#matched = i;
        return d;
      }
    }
    this.#matched = n;
    return len - target.length;
  }

  /** Whether the current key starts with `prefix` (compared in place: no string built). */
  startsWith(prefix: string): boolean {
    const n = prefix.length;
    if (this.keyLength < n) return false;
    const key = this.#key;
    for (let i = 0; i < n; i++) if (key[i] !== prefix.charCodeAt(i)) return false;
    return true;
  }

  /** The current key as a binary string (built once; from the previous key's string when known). */
  keyString(): string {
    if (this.#string !== undefined) return this.#string;
    const previous = this.#previousString;
    const shared = this.#shared;
    this.#string =
      previous !== undefined && shared > 0
        ? previous.slice(0, shared) + shortBinaryString(this.#key, shared, this.keyLength)
        : shortBinaryString(this.#key, 0, this.keyLength);
    return this.#string;
  }

  /** Where the current value starts in the block, and its length (read it in place, no view). */
  get valueStart(): number {
    return this.#valueStart;
  }

  get valueLength(): number {
    return this.#valueLength;
  }

  /** The current value: a view into the block (not to be mutated). */
  value(): Uint8Array {
    return this.block.subarray(this.#valueStart, this.#valueStart + this.#valueLength);
  }

  /** The key at restart point `i` (stored whole there) compared with `target` from byte `from`, read in place. */
  #compareRestart(i: number, target: string, from: number): number {
    const b = this.block;
    let p = getU32(b, this.#dataEnd + 4 * i);
    if (b[p] !== 0) throw corruption(this.file, this.#offset, 'a restart point shares a prefix');
    p++;
    let length = b[p]!;
    if (length < 128) p++;
    else {
      length = this.#varint(p);
      p = this.#p;
    }
    // Skip the value length and the kind.
    while (b[p]! >= 128) p++;
    p += 2;
    if (p + length > this.#dataEnd) throw corruption(this.file, this.#offset, 'malformed entry');
    const n = Math.min(length, target.length);
    for (let j = from; j < n; j++) {
      const d = b[p + j]! - target.charCodeAt(j);
      if (d !== 0) {
        this.#matched = j;
        return d;
      }
    }
    this.#matched = n;
    return length - target.length;
  }

  /** A varint of more than one byte at `p` (its end goes to #p). */
  #varint(p: number): number {
    const b = this.block;
    let result = 0;
    let mult = 1;
    for (let i = 0; i < 8 && p < this.#dataEnd; i++) {
      const x = b[p++]!;
      result += (x & 127) * mult;
      if (x < 128) {
        this.#p = p;
        return result;
      }
      mult *= 128;
    }
    throw corruption(this.file, this.#offset, 'malformed length');
  }
}
