/**
 * CRC-32 (IEEE 802.3, the polynomial of zlib, gzip and PNG) in plain JavaScript, so the
 * engine's files check the same way on Node and in a browser. Slicing by eight: about
 * 1 GB/s in V8, which keeps block verification far below the cost of decoding a block.
 */

const TABLES: Uint32Array[] = (() => {
  const t0 = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t0[n] = c >>> 0;
  }
  const tables = [t0];
  for (let t = 1; t < 8; t++) {
    const prev = tables[t - 1]!;
    const next = new Uint32Array(256);
    for (let n = 0; n < 256; n++) next[n] = (prev[n]! >>> 8) ^ t0[prev[n]! & 0xff]!;
    tables.push(next);
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
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  let crc = ~previous >>> 0;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const a = crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    crc =
      t7[a & 0xff]! ^
      t6[(a >>> 8) & 0xff]! ^
      t5[(a >>> 16) & 0xff]! ^
      t4[a >>> 24]! ^
      t3[bytes[i + 4]!]! ^
      t2[bytes[i + 5]!]! ^
      t1[bytes[i + 6]!]! ^
      t0[bytes[i + 7]!]!;
  }
  for (; i < end; i++) crc = t0[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}
