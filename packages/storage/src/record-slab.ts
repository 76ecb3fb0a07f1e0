/**
 * Fresh bytes for records, cut from shared slabs. V8 gives a typed array of over 64
 * bytes its own off-heap buffer, measured ~6x slower to allocate than a view (≈600 vs
 * ≈100 ns) and tracked by the garbage collector one by one; a commit makes two or three
 * such records per version (its version record, its change-feed record, its head
 * record), so they are views into one 16 KiB slab instead.
 *
 * A view pins its whole slab while it lives: `slice()` a record to keep it long without
 * pinning the rest, and never transfer its `.buffer`.
 *
 * Browser-safe: no Node module is used.
 */

const SLAB_BYTES = 16384;
let slab = new Uint8Array(SLAB_BYTES);
let slabUsed = 0;

/** `n` fresh zeroed bytes: a view into the current slab, or their own buffer when large (over 4 KiB). */
export function allocateRecord(n: number): Uint8Array {
  if (n > SLAB_BYTES / 4) return new Uint8Array(n);
  if (slabUsed + n > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + n);
  slabUsed += n;
  return out;
}

/**
 * The bytes of a binary string (one char code per byte, as the engine's keys are),
 * from {@link allocateRecord}. The caller vouches that `s` is a binary string (keys the
 * version store built): a char code above 0xFF would be cut to its low byte.
 */
export function recordBytesOfKey(s: string): Uint8Array {
  const out = allocateRecord(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
