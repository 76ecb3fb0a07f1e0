/**
 * The Bloom filters of a segment, one per index partition (layout in segment-format.ts):
 * a few bits per key that let a lookup skip a segment without reading any of its data
 * blocks. Double hashing
 * (probe i at h1 + i·h2) from two MurmurHash3 rounds with different seeds: two
 * independent 32-bit hashes, so false positives stay near the theoretical rate even
 * for large filters, at the cost of two short passes over the key (no crypto).
 */
import { BLOOM_SEED_1, BLOOM_SEED_2 } from './segment-format.js';

/** The most probes a filter uses (more buys nothing at sane bits per key). */
const MAX_PROBES = 30;

/**
 * MurmurHash3_x86_32 of the bytes of a binary string (each char code is one byte).
 * Reads four chars per round: no per-byte allocation, no conversion to bytes first.
 */
export function murmur3(key: string, seed: number): number {
  const len = key.length;
  const body = len & ~3;
  let h = seed | 0;
  let i = 0;
  for (; i < body; i += 4) {
    let k = key.charCodeAt(i) | (key.charCodeAt(i + 1) << 8) | (key.charCodeAt(i + 2) << 16) | (key.charCodeAt(i + 3) << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = len & 3;
  if (rest > 0) {
    let k = key.charCodeAt(i);
    if (rest > 1) k |= key.charCodeAt(i + 1) << 8;
    if (rest > 2) k |= key.charCodeAt(i + 2) << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Collects the filter keys of one filter partition being written, then lays it out. */
export class BloomBuilder {
  /** Pairs (h1, h2) of the keys added: 8 bytes a key however long the key. */
  #hashes = new Uint32Array(1024);
  #count = 0;

  /** @param bitsPerKey bits of filter per key; 0 writes "no filter" (an empty partition: everything may be present). */
  constructor(readonly bitsPerKey: number) {}

  /** Keys added since the last {@link reset}. */
  get count(): number {
    return this.#count;
  }

  /** Bytes the filter partition will take (for size estimates; its CRC not included). */
  get estimatedBytes(): number {
    if (this.bitsPerKey === 0) return 0;
    return this.#count === 0 ? 1 : filterBytes(this.#count, this.bitsPerKey) + 1;
  }

  add(filterKey: string): void {
    if (this.bitsPerKey === 0) return;
    const at = this.#count * 2;
    if (at + 2 > this.#hashes.length) {
      const grown = new Uint32Array(this.#hashes.length * 2);
      grown.set(this.#hashes);
      this.#hashes = grown;
    }
    this.#hashes[at] = murmur3(filterKey, BLOOM_SEED_1);
    this.#hashes[at + 1] = murmur3(filterKey, BLOOM_SEED_2);
    this.#count++;
  }

  /** Forgets the keys added (the next partition starts); keeps the buffer. */
  reset(): void {
    this.#count = 0;
  }

  /** The filter partition's bytes: the bit array, then the number of probes; empty when bitsPerKey = 0. */
  build(): Uint8Array {
    if (this.bitsPerKey === 0) return new Uint8Array(0);
    const probes = Math.min(MAX_PROBES, Math.max(1, Math.round(this.bitsPerKey * Math.LN2)));
    const m = this.#count === 0 ? 0 : filterBytes(this.#count, this.bitsPerKey);
    const out = new Uint8Array(m + 1);
    const bits = m * 8;
    const hashes = this.#hashes;
    for (let j = 0; j < this.#count * 2; j += 2) {
      const h1 = hashes[j]!;
      const h2 = hashes[j + 1]!;
      for (let i = 0; i < probes; i++) {
        const b = ((h1 + Math.imul(i, h2)) >>> 0) % bits;
        out[b >>> 3]! |= 1 << (b & 7);
      }
    }
    out[m] = probes;
    return out;
  }
}

function filterBytes(keys: number, bitsPerKey: number): number {
  return Math.max(8, Math.ceil((keys * bitsPerKey) / 8));
}

/**
 * Whether a (CRC-checked) filter partition is well formed: at least the probe count,
 * which is 1–30. A reader checks it once, when it reads the partition from the file.
 */
export function isFilterBlock(block: Uint8Array): boolean {
  if (block.length < 1) return false;
  const probes = block[block.length - 1]!;
  return probes >= 1 && probes <= MAX_PROBES;
}

/**
 * False when no key with the filter key hashed to (h1, h2) (its two murmur3 hashes) was
 * added to this filter partition; true may be a false positive. Reads the block in
 * place: nothing allocated per query.
 */
export function filterBlockMayContain(block: Uint8Array, h1: number, h2: number): boolean {
  const m = block.length - 1;
  if (m === 0) return false;
  const bitCount = m * 8;
  const probes = block[m]!;
  for (let i = 0; i < probes; i++) {
    const b = ((h1 + Math.imul(i, h2)) >>> 0) % bitCount;
    if ((block[b >>> 3]! & (1 << (b & 7))) === 0) return false;
  }
  return true;
}
