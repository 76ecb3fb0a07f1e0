/**
 * CRC-32 (IEEE 802.3, the polynomial of zlib, gzip and PNG) in plain JavaScript, so the
 * engine's files check the same way on Node and in a browser. Slicing by eight over one
 * signed-word table: about 1.6 GB/s in V8 (a browser worker checks every block its
 * flushes and merges read and write with it).
 */

// The eight slicing tables, one after the other (table t at t * 256), as *signed* 32-bit
// words: V8 keeps Int32Array loads in small integers, while a Uint32Array's values of
// 2^31 and above come out as doubles, which makes the loop below about 1.7x slower.
const TABLES: Int32Array = (() => {
  const tables = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    tables[n] = c;
  }
  for (let t = 1; t < 8; t++) {
    for (let n = 0; n < 256; n++) {
      const prev = tables[(t - 1) * 256 + n]!;
      tables[t * 256 + n] = (prev >>> 8) ^ tables[prev & 0xff]!;
    }
  }
  return tables;
})();

/** A CRC-32 implementation over a whole byte array, continuing from `previous`. */
export type Crc32Function = (bytes: Uint8Array, previous: number) => number;

let native: Crc32Function | undefined;

/**
 * Installs a faster implementation of the same CRC-32 (the Node entry installs
 * node:zlib's, several times faster than this one: it is on the path of every block
 * read). Results must be identical; a module-level switch like the engine's hash backend.
 */
export function useCrc32(implementation: Crc32Function | undefined): void {
  native = implementation;
}

/**
 * The CRC-32 of `bytes[start, end)`, continuing from `previous` (the CRC of the bytes
 * before, 0 to start). Equal to node:zlib's `crc32(bytes, previous)`.
 */
export function crc32(bytes: Uint8Array, previous = 0, start = 0, end = bytes.length): number {
  if (native !== undefined && end > start) return native(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), previous);
  return crc32Js(bytes, previous, start, end);
}

/** The plain-JavaScript CRC-32 (what {@link crc32} runs unless a faster one is installed). */
export function crc32Js(bytes: Uint8Array, previous = 0, start = 0, end = bytes.length): number {
  const t = TABLES;
  let crc = ~previous | 0;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const a = crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    crc =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^
      t[512 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < end; i++) crc = t[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}
