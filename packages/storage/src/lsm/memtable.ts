/**
 * The memtable: the sorted in-memory table of recent writes, flushed to a segment when
 * it grows past a threshold.
 *
 * Structure: a two-level ordered index, an array of sorted *chunks* of at most
 * {@link CHUNK_MAX} keys (each with its values, in a parallel array), plus the last key
 * of every chunk. Every operation is two binary searches, one over the chunk ends and
 * one inside a chunk: a replacement then writes one array slot, a new key splices at
 * most CHUNK_MAX slots (a memmove in V8), and a full chunk splits in two. A seek is the
 * same two searches, so O(log n) at any moment, and a scan walks plain arrays.
 *
 * No map beside it: a Map was measured a large part of a put (hashing each new key,
 * which is a fresh string, and rehashing a table of every key as it grows, in the commit
 * path and again when a flush replays the log), while the two searches are paid by every
 * new key anyway. A point lookup costs ~2 log2(n) string comparisons instead of a hash.
 * Nor an object per entry: values are copied into large blocks of bytes (an *arena*)
 * and located by one number each, so what a memtable keeps alive until its flush is its
 * key strings and a few blocks, not a typed-array view per entry: the garbage collector
 * copied every such view twice before it reached the old generation (a view is ~90
 * bytes of heap; a commit stores three or four). A value is read back as a view of its
 * block (one allocation per read, which are rarer than writes here). Values over
 * {@link OWN_BYTES} are kept as given instead of copied.
 *
 * Why not the alternatives: a Map plus a key array sorted lazily when a cursor is asked
 * is cheaper while only writing, but a scan interleaved with writes (read-your-writes
 * queries) would re-sort or re-merge the whole table each time; a skip list or a
 * balanced tree allocates a node per key and chases pointers, where chunks keep keys
 * contiguous.
 */
import { KIND_DELETE, KIND_PUT, type Entry, type EntryCursor, type EntryKind, type Found } from './types.js';

/** Most keys in one chunk: large enough that chunk ends stay few, small enough that a splice is cheap. */
const CHUNK_MAX = 512;

/**
 * Bytes counted per entry beyond its key and value: the chunk array slots, the value's
 * view object and the string header, as V8 lays them out on 64-bit (approximate on
 * purpose: it feeds a threshold, not an allocator).
 */
export const MEMTABLE_ENTRY_OVERHEAD = 96;

/** Bytes of one arena block. */
const BLOCK_BYTES = 1 << 18;
/** Values longer than this are kept as given (one view each), not copied into the arena. */
const OWN_BYTES = 1 << 14;
/** Lengths take the low bits of a location (values in the arena are at most OWN_BYTES). */
const LENGTH_SCALE = 1 << 15;
/** The location of a deletion marker. */
const TOMBSTONE = -1;
const EMPTY = new Uint8Array(0);

/**
 * Where a value is: {@link TOMBSTONE}; −2 − i for the i-th value kept as given; else
 * (block × BLOCK_BYTES + offset) × LENGTH_SCALE + length (below 2^53 for 2^20 blocks).
 */
type Loc = number;

interface Chunk {
  keys: string[];
  /** `locs[i]` is where keys[i]'s value is. */
  locs: Loc[];
}

/** Index of the first element of sorted `keys` (within [lo, hi)) that is ≥ `key`. */
function lowerBound(keys: readonly string[], key: string, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The sorted in-memory table of recent writes. Keys are binary strings (see types.ts),
 * compared with `<`. A value is kept as given, not copied: the caller must not change it
 * afterwards.
 */
export class Memtable {
  /** Non-empty chunks in key order (one empty chunk only while the table is empty). */
  readonly #chunks: Chunk[] = [{ keys: [], locs: [] }];
  /** The arena: value bytes, appended; the last block is being filled. */
  readonly #blocks: Uint8Array[] = [];
  /** Bytes used of the last block. */
  #used = BLOCK_BYTES;
  /** Values kept as given (over OWN_BYTES). */
  readonly #own: Uint8Array[] = [];
  /** The last key of each chunk, for the first binary search. */
  readonly #ends: string[] = [];
  #count = 0;
  #bytes = 0;
  /** Bumped when a key is added: cursors made before see a stale layout. */
  #layout = 0;

  /** Entries held (one per key). */
  get count(): number {
    return this.#count;
  }

  /** Approximate bytes held (keys, values, structure), for the flush threshold and the memory budget. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Stores `key`'s newest entry; a second put of a key replaces the first.
   * @throws RangeError for an unknown kind, or a deletion marker with a value
   */
  put(key: string, kind: EntryKind, value: Uint8Array): void {
    if (kind !== KIND_PUT && kind !== KIND_DELETE) throw new RangeError(`unknown entry kind ${String(kind)}`);
    if (kind === KIND_DELETE && value.byteLength !== 0) throw new RangeError('a deletion marker has no value');
    const stored = kind === KIND_DELETE ? TOMBSTONE : this.#store(value);
    const size = value.byteLength;
    const ends = this.#ends;
    const last = ends.length - 1;
    // The chunk whose range holds the key; past every end, the last chunk (its end moves).
    // Keys written in ascending order (change numbers) skip the search.
    let ci: number;
    if (last < 0 || key > ends[last]!) ci = last + 1;
    else ci = lowerBound(ends, key, 0, last + 1);
    if (ci > last) {
      const c = this.#chunks[last < 0 ? 0 : last]!;
      c.keys.push(key);
      c.locs.push(stored);
      if (last < 0) ends.push(key);
      else ends[last] = key;
      this.#added(key, size, last < 0 ? 0 : last);
      return;
    }
    const c = this.#chunks[ci]!;
    const keys = c.keys;
    // The chunk's end is ≥ key, so the position is inside it.
    const at = lowerBound(keys, key, 0, keys.length);
    if (keys[at] === key) {
      this.#bytes += size - this.#size(c.locs[at]!);
      c.locs[at] = stored;
      return;
    }
    keys.splice(at, 0, key);
    c.locs.splice(at, 0, stored);
    this.#added(key, size, ci);
  }

  /** Copies `value` into the arena (or keeps it, when large): its location. */
  #store(value: Uint8Array): Loc {
    const n = value.byteLength;
    // An empty value needs no bytes: any location of length 0 reads as empty.
    if (n === 0) return 0;
    if (n > OWN_BYTES) {
      this.#own.push(value);
      return -1 - this.#own.length;
    }
    if (this.#used + n > BLOCK_BYTES) {
      this.#blocks.push(new Uint8Array(BLOCK_BYTES));
      this.#used = 0;
    }
    const at = this.#used;
    const block = this.#blocks[this.#blocks.length - 1]!;
    // Records are small: a loop beats making a view for `set` (measured for ≤ 64 bytes).
    if (n <= 64) for (let i = 0; i < n; i++) block[at + i] = value[i]!;
    else block.set(value, at);
    this.#used = at + n;
    return ((this.#blocks.length - 1) * BLOCK_BYTES + at) * LENGTH_SCALE + n;
  }

  /** The value at `loc` (a view of its block; an empty array for a deletion marker). */
  #value(loc: Loc): Uint8Array {
    if (loc < 0) return loc === TOMBSTONE ? EMPTY : this.#own[-2 - loc]!;
    const n = loc % LENGTH_SCALE;
    if (n === 0) return EMPTY;
    const start = (loc - n) / LENGTH_SCALE;
    const b = Math.floor(start / BLOCK_BYTES);
    const at = start - b * BLOCK_BYTES;
    return this.#blocks[b]!.subarray(at, at + n);
  }

  /** The length of the value at `loc`. */
  #size(loc: Loc): number {
    if (loc < 0) return loc === TOMBSTONE ? 0 : this.#own[-2 - loc]!.byteLength;
    return loc % LENGTH_SCALE;
  }

  /** Counts a new key (its value of `size` bytes) in chunk `ci`, and splits that chunk when full. */
  #added(key: string, size: number, ci: number): void {
    this.#count++;
    this.#bytes += key.length + size + MEMTABLE_ENTRY_OVERHEAD;
    this.#layout++;
    const c = this.#chunks[ci]!;
    if (c.keys.length > CHUNK_MAX) {
      const half = c.keys.length >>> 1;
      const right: Chunk = { keys: c.keys.slice(half), locs: c.locs.slice(half) };
      c.keys.length = half;
      c.locs.length = half;
      this.#chunks.splice(ci + 1, 0, right);
      this.#ends.splice(ci, 0, c.keys[half - 1]!);
    }
  }

  /** The newest entry of `key`, or undefined when the table has none. */
  get(key: string): Found | undefined {
    const ends = this.#ends;
    const ci = lowerBound(ends, key, 0, ends.length);
    if (ci === ends.length) return undefined;
    const c = this.#chunks[ci]!;
    const at = lowerBound(c.keys, key, 0, c.keys.length);
    if (c.keys[at] !== key) return undefined;
    const loc = c.locs[at]!;
    return loc === TOMBSTONE ? { kind: KIND_DELETE, value: EMPTY } : { kind: KIND_PUT, value: this.#value(loc) };
  }

  /**
   * An ascending cursor, unpositioned until a seek. It stays valid across replacements of
   * existing keys (it sees the new entry) and throws once a new key was added.
   */
  cursor(): EntryCursor {
    return new MemtableCursor(() => this.#layout, this.#chunks, this.#ends, this.#layout, (loc) => this.#value(loc));
  }

  /** Every entry in key order (for a flush). */
  entries(): Entry[] {
    const out: Entry[] = new Array<Entry>(this.#count);
    let i = 0;
    for (const c of this.#chunks) {
      const { keys, locs } = c;
      for (let j = 0; j < keys.length; j++) {
        const loc = locs[j]!;
        out[i++] = { key: keys[j]!, kind: loc === TOMBSTONE ? KIND_DELETE : KIND_PUT, value: this.#value(loc) };
      }
    }
    return out;
  }
}

class MemtableCursor implements EntryCursor {
  #ci = 0;
  #pos = 0;
  #valid = false;

  constructor(
    readonly layoutNow: () => number,
    readonly chunks: readonly Chunk[],
    readonly ends: readonly string[],
    readonly layout: number,
    /** The table's reader of a location. */
    readonly valueAt: (loc: Loc) => Uint8Array,
  ) {}

  #check(): void {
    // The chunk arrays are the table's own: a key added since would shift positions.
    if (this.layoutNow() !== this.layout) throw new Error('memtable cursor used after a new key was added to the table');
  }

  #loc(): Loc {
    this.#check();
    if (!this.#valid) throw new RangeError('memtable cursor is not positioned on an entry');
    return this.chunks[this.#ci]!.locs[this.#pos]!;
  }

  valid(): boolean {
    this.#check();
    return this.#valid;
  }

  key(): string {
    this.#loc();
    return this.chunks[this.#ci]!.keys[this.#pos]!;
  }

  kind(): EntryKind {
    return this.#loc() === TOMBSTONE ? KIND_DELETE : KIND_PUT;
  }

  value(): Uint8Array {
    return this.valueAt(this.#loc());
  }

  next(): void {
    this.#check();
    if (!this.#valid) throw new RangeError('memtable cursor is not positioned on an entry');
    if (++this.#pos < this.chunks[this.#ci]!.keys.length) return;
    this.#ci++;
    this.#pos = 0;
    this.#valid = this.#ci < this.ends.length;
  }

  seek(key: string): void {
    this.#check();
    const ci = lowerBound(this.ends, key, 0, this.ends.length);
    this.#ci = ci;
    if (ci === this.ends.length) {
      this.#valid = false;
      return;
    }
    const keys = this.chunks[ci]!.keys;
    // The chunk's end is ≥ key, so the position is inside it.
    this.#pos = lowerBound(keys, key, 0, keys.length);
    this.#valid = true;
  }

  seekToFirst(): void {
    this.#check();
    this.#ci = 0;
    this.#pos = 0;
    this.#valid = this.ends.length > 0;
  }
}
