/**
 * SHA-256 (FIPS 180-4) in plain JavaScript, tuned for what the engine hashes: short
 * inputs (ids, ~200-byte documents) one after the other, synchronously. A browser has
 * no synchronous native SHA-256 (WebCrypto's digest is asynchronous), so this is the
 * hash every put pays for there. Compared with a general-purpose library it avoids the
 * per-call work that dominates on short inputs: no hasher object, no output array, no
 * text decoder — the text is encoded into one scratch buffer that is padded in place,
 * the compression runs over 32-bit words, and the hex digest is built straight from
 * the eight state words.
 */

// The round constants: the first 32 bits of the fractional parts of the cube roots of the first 64 primes.
const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** The message schedule, reused by every block. */
const W = new Int32Array(64);
/** The hash state, reused by every digest. */
const H = new Int32Array(8);
/** The padded message of the digest in progress; grows (to a power of two) up to {@link SCRATCH_MAX}. */
let scratch = new Uint8Array(1024);
/** Longer messages get a buffer of their own, so one large value does not pin a large scratch buffer. */
const SCRATCH_MAX = 256 * 1024;
/** The hex digits of a digest as character codes, decoded once into the result string. */
const HEX_OUT = new Uint16Array(64);
const HEX = Uint16Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const encoder = new TextEncoder();

/** Room for a message of `length` bytes plus its padding (at least 9 bytes, to a multiple of 64). */
function padded(length: number): number {
  return (length + 9 + 63) & ~63;
}

/** A buffer of at least `bytes` bytes: the scratch buffer (grown if needed) or, past its limit, a new one. */
function buffer(bytes: number): Uint8Array {
  if (scratch.length >= bytes) return scratch;
  if (bytes > SCRATCH_MAX) return new Uint8Array(bytes);
  let n = scratch.length;
  while (n < bytes) n *= 2;
  scratch = new Uint8Array(n);
  return scratch;
}

/** Pads the `length`-byte message at the start of `b` (room for its padding included), hashes it into {@link H}. */
function digestBlock(b: Uint8Array, length: number): void {
  const total = padded(length);
  b[length] = 0x80;
  b.fill(0, length + 1, total - 8);
  // The length in bits, big-endian in the last 8 bytes (messages here stay far below 2^53 bits).
  const bits = length * 8;
  const hi = Math.floor(bits / 0x100000000);
  b[total - 8] = hi >>> 24;
  b[total - 7] = hi >>> 16;
  b[total - 6] = hi >>> 8;
  b[total - 5] = hi;
  b[total - 4] = bits >>> 24;
  b[total - 3] = bits >>> 16;
  b[total - 2] = bits >>> 8;
  b[total - 1] = bits;
  let h0 = 0x6a09e667 | 0;
  let h1 = 0xbb67ae85 | 0;
  let h2 = 0x3c6ef372 | 0;
  let h3 = 0xa54ff53a | 0;
  let h4 = 0x510e527f | 0;
  let h5 = 0x9b05688c | 0;
  let h6 = 0x1f83d9ab | 0;
  let h7 = 0x5be0cd19 | 0;
  const w = W;
  const k = K;
  for (let off = 0; off < total; off += 64) {
    for (let i = 0; i < 16; i++) {
      const j = off + i * 4;
      w[i] = (b[j]! << 24) | (b[j + 1]! << 16) | (b[j + 2]! << 8) | b[j + 3]!;
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!;
      const y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    let a = h0;
    let bb = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    let f = h5;
    let g = h6;
    let h = h7;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + k[i]! + w[i]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = bb;
      bb = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + bb) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  H[0] = h0;
  H[1] = h1;
  H[2] = h2;
  H[3] = h3;
  H[4] = h4;
  H[5] = h5;
  H[6] = h6;
  H[7] = h7;
}

/** The lowercase hex of {@link H}. */
function hexOfState(): string {
  const out = HEX_OUT;
  for (let i = 0; i < 8; i++) {
    const v = H[i]!;
    const o = i * 8;
    out[o] = HEX[(v >>> 28) & 15]!;
    out[o + 1] = HEX[(v >>> 24) & 15]!;
    out[o + 2] = HEX[(v >>> 20) & 15]!;
    out[o + 3] = HEX[(v >>> 16) & 15]!;
    out[o + 4] = HEX[(v >>> 12) & 15]!;
    out[o + 5] = HEX[(v >>> 8) & 15]!;
    out[o + 6] = HEX[(v >>> 4) & 15]!;
    out[o + 7] = HEX[v & 15]!;
  }
  // One flat 64-character string (apply over a 64-element array stays far below any argument limit).
  return String.fromCharCode.apply(null, out as unknown as number[]);
}

/** Lowercase hex SHA-256 of the UTF-8 encoding of `text` (lone surrogates encode as U+FFFD, like TextEncoder). */
export function sha256HexOfTextJs(text: string): string {
  // UTF-8 takes at most 3 bytes per UTF-16 unit: a short text is encoded straight into the scratch buffer.
  const max = padded(text.length * 3);
  if (max <= SCRATCH_MAX) {
    const b = buffer(max);
    digestBlock(b, encoder.encodeInto(text, b).written);
  } else {
    const bytes = encoder.encode(text);
    const b = buffer(padded(bytes.length));
    b.set(bytes);
    digestBlock(b, bytes.length);
  }
  return hexOfState();
}

/** Lowercase hex SHA-256 of `bytes`. */
export function sha256HexOfBytesJs(bytes: Uint8Array): string {
  const b = buffer(padded(bytes.length));
  b.set(bytes);
  digestBlock(b, bytes.length);
  return hexOfState();
}
