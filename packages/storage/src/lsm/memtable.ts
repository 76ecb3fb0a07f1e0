/**
 * The memtable: the sorted in-memory table of recent writes, flushed to a segment when
 * it grows past a threshold.
 *
 * Structure: a Map from key to a mutable slot (point gets in O(1), and a replacement is
 * one Map hit that touches nothing else), beside a two-level ordered index: an array of
 * sorted *chunks* of at most {@link CHUNK_MAX} keys, plus the last key of every chunk.
 * A new key costs a binary search over the chunk ends, one over the chunk, and a splice
 * of at most CHUNK_MAX slots (a memmove in V8); a full chunk splits in two. A seek is
 * the same two binary searches, so O(log n) at any moment, and a scan walks plain
 * arrays without touching the Map.
 *
 * Why not the alternatives: a Map plus a key array sorted lazily when a cursor is asked
 * is cheaper while only writing, but a scan interleaved with writes (read-your-writes
 * queries) would re-sort or re-merge the whole table each time; a skip list or a
 * balanced tree allocates a node per key and chases pointers, where chunks keep keys
 * contiguous and the per-key cost is one slot object.
 */
import { KIND_DELETE, KIND_PUT, type Entry, type EntryCursor, type EntryKind, type Found } from './types.js';

/** Most keys in one chunk: large enough that chunk ends stay few, small enough that a splice is cheap. */
const CHUNK_MAX = 512;

/**
 * Bytes counted per entry beyond its key and value: the Map entry, the slot object, the
 * chunk array slots and the string and array headers, as V8 lays them out on 64-bit
 * (approximate on purpose: it feeds a threshold, not an allocator).
 */
export const MEMTABLE_ENTRY_OVERHEAD = 96;

/** One key's newest entry. Mutated in place when the key is written again. */
interface Slot {
  kind: EntryKind;
  value: Uint8Array;
}

interface Chunk {
  keys: string[];
  slots: Slot[];
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
  readonly #map = new Map<string, Slot>();
  /** Non-empty chunks in key order (one empty chunk only while the table is empty). */
  readonly #chunks: Chunk[] = [{ keys: [], slots: [] }];
  /** The last key of each chunk, for the first binary search. */
  readonly #ends: string[] = [];
  #bytes = 0;
  /** Bumped when a key is added: cursors made before see a stale layout. */
  #layout = 0;

  /** Entries held (one per key). */
  get count(): number {
    return this.#map.size;
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
    const old = this.#map.get(key);
    if (old !== undefined) {
      this.#bytes += value.byteLength - old.value.byteLength;
      old.kind = kind;
      old.value = value;
      return;
    }
    const slot: Slot = { kind, value };
    this.#map.set(key, slot);
    this.#bytes += key.length + value.byteLength + MEMTABLE_ENTRY_OVERHEAD;
    this.#layout++;
    this.#insert(key, slot);
  }

  #insert(key: string, slot: Slot): void {
    const ends = this.#ends;
    if (ends.length === 0) {
      const c = this.#chunks[0]!;
      c.keys.push(key);
      c.slots.push(slot);
      ends.push(key);
      return;
    }
    // The chunk whose range holds the key; past every end, the last chunk (its end moves).
    let ci = lowerBound(ends, key, 0, ends.length);
    if (ci === ends.length) {
      ci--;
      ends[ci] = key;
    }
    const c = this.#chunks[ci]!;
    const at = lowerBound(c.keys, key, 0, c.keys.length);
    if (at === c.keys.length) {
      c.keys.push(key);
      c.slots.push(slot);
    } else {
      c.keys.splice(at, 0, key);
      c.slots.splice(at, 0, slot);
    }
    if (c.keys.length > CHUNK_MAX) {
      const half = c.keys.length >>> 1;
      const right: Chunk = { keys: c.keys.slice(half), slots: c.slots.slice(half) };
      c.keys.length = half;
      c.slots.length = half;
      this.#chunks.splice(ci + 1, 0, right);
      ends.splice(ci, 0, c.keys[half - 1]!);
    }
  }

  /** The newest entry of `key`, or undefined when the table has none. */
  get(key: string): Found | undefined {
    const s = this.#map.get(key);
    return s === undefined ? undefined : { kind: s.kind, value: s.value };
  }

  /**
   * An ascending cursor, unpositioned until a seek. It stays valid across replacements of
   * existing keys (it sees the new entry) and throws once a new key was added.
   */
  cursor(): EntryCursor {
    return new MemtableCursor(() => this.#layout, this.#chunks, this.#ends, this.#layout);
  }

  /** Every entry in key order (for a flush). */
  entries(): Entry[] {
    const out: Entry[] = new Array<Entry>(this.#map.size);
    let i = 0;
    for (const c of this.#chunks) {
      const { keys, slots } = c;
      for (let j = 0; j < keys.length; j++) {
        const s = slots[j]!;
        out[i++] = { key: keys[j]!, kind: s.kind, value: s.value };
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
  ) {}

  #check(): void {
    // The chunk arrays are the table's own: a key added since would shift positions.
    if (this.layoutNow() !== this.layout) throw new Error('memtable cursor used after a new key was added to the table');
  }

  #slot(): Slot {
    this.#check();
    if (!this.#valid) throw new RangeError('memtable cursor is not positioned on an entry');
    return this.chunks[this.#ci]!.slots[this.#pos]!;
  }

  valid(): boolean {
    this.#check();
    return this.#valid;
  }

  key(): string {
    this.#slot();
    return this.chunks[this.#ci]!.keys[this.#pos]!;
  }

  kind(): EntryKind {
    return this.#slot().kind;
  }

  value(): Uint8Array {
    return this.#slot().value;
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
