// The plain-JavaScript CRC-32 (what a browser runs) against node:zlib's, on random bytes,
// any continuation value and any sub-range, including the lengths around the 8-byte
// slicing step and bytes whose table entries have the top bit set.
import { crc32 as zlibCrc32 } from 'node:zlib';
import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32Js } from '../src/lsm/checksum.js';

describe('crc32Js', () => {
  it('equals node:zlib crc32 on every range of random bytes, continuing from any previous value', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(), fc.nat({ max: 20 }), fc.nat({ max: 20 }), (bytes, previous, cutStart, cutEnd) => {
        const start = Math.min(cutStart, bytes.length);
        const end = Math.max(start, bytes.length - cutEnd);
        const prev = previous >>> 0;
        // An empty range continues nothing: the previous CRC (zlib answers 0 there).
        expect(crc32Js(bytes, prev, start, end)).toBe(end > start ? zlibCrc32(bytes.subarray(start, end), prev) : prev);
        expect(crc32Js(bytes)).toBe(zlibCrc32(bytes));
      }),
      { seed: fcSeed('checksum: crc32Js vs zlib'), numRuns: 1000 },
    );
  });

  it('continuing over two halves equals one pass; every length from 0 to 40 of 0xff bytes matches', () => {
    const b = new Uint8Array(40).fill(0xff);
    for (let n = 0; n <= 40; n++) expect(crc32Js(b, 0, 0, n), `length ${n}`).toBe(zlibCrc32(b.subarray(0, n)));
    const c = new Uint8Array(1000).map((_, i) => (i * 97) ^ (i >> 2));
    expect(crc32Js(c, crc32Js(c, 0, 0, 333), 333, 1000)).toBe(zlibCrc32(c));
  });
});
