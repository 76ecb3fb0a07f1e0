import fc from 'fast-check';
import { fcSeed } from '@koru/vitest-preset/helpers';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from './hash.js';

describe('hex', () => {
  it('toHex matches Node for any length, including past its scratch buffer', () => {
    for (const n of [0, 1, 31, 32, 64, 65, 1000]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 151 + n) & 255);
      expect(toHex(bytes)).toBe(Buffer.from(bytes).toString('hex'));
    }
  });

  it('fromHex inverts toHex (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(fromHex(toHex(bytes))).toEqual(bytes);
        expect(toHex(bytes)).toBe(Buffer.from(bytes).toString('hex'));
      }),
      { seed: fcSeed('hex round trip'), numRuns: 300 },
    );
  });
});
