import { createHash } from 'node:crypto';
import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { distinctionOfText } from './distinction.js';
import { hashBackend, nobleHashBackend, setHashBackend, sha256HexOfBytes, sha256HexOfText } from './hash.js';
import { installNodeHash, nodeHashBackend } from './node.js';

/** An independent reference: streaming node:crypto. */
const refText = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');
const refBytes = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

const stringArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  fc.string({ unit: 'binary-ascii', maxLength: 300 }),
  fc.string({ unit: fc.constantFrom('é', '€', '😀', '\u{10ffff}', '\u0000', 'a'), maxLength: 200 }),
);

describe('node hash backend', () => {
  const original = hashBackend();
  afterEach(() => {
    setHashBackend(original);
  });

  it('gives the same digests as @noble/hashes on random text', () => {
    fc.assert(
      fc.property(stringArb, (s) => {
        const expected = refText(s);
        expect(nodeHashBackend.hexOfText(s)).toBe(expected);
        expect(nobleHashBackend.hexOfText(s)).toBe(expected);
      }),
      { seed: fcSeed('hash.node: text'), numRuns: 1000 },
    );
  });

  it('gives the same digests as @noble/hashes on random bytes, including views into larger buffers', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.nat({ max: 32 }), fc.nat({ max: 32 }), (bytes, pre, post) => {
        const expected = refBytes(bytes);
        expect(nodeHashBackend.hexOfBytes(bytes)).toBe(expected);
        expect(nobleHashBackend.hexOfBytes(bytes)).toBe(expected);
        const big = new Uint8Array(pre + bytes.length + post).fill(0xaa);
        big.set(bytes, pre);
        const view = big.subarray(pre, pre + bytes.length);
        expect(nodeHashBackend.hexOfBytes(view)).toBe(expected);
        expect(nobleHashBackend.hexOfBytes(view)).toBe(expected);
      }),
      { seed: fcSeed('hash.node: bytes'), numRuns: 500 },
    );
  });

  it('agrees on large inputs and on text with lone surrogates (both encode them as U+FFFD)', () => {
    const big = 'é😀x'.repeat(300_000);
    expect(nodeHashBackend.hexOfText(big)).toBe(nobleHashBackend.hexOfText(big));
    const bytes = new Uint8Array(3_000_001).map((_, i) => (i * 31) & 0xff);
    expect(nodeHashBackend.hexOfBytes(bytes)).toBe(nobleHashBackend.hexOfBytes(bytes));
    const replaced: Array<[string, string]> = [
      ['\ud800', '\ufffd'],
      ['a\udc00b', 'a\ufffdb'],
      ['x\ud83d', 'x\ufffd'],
    ];
    for (const [lone, same] of replaced) {
      expect(nodeHashBackend.hexOfText(lone)).toBe(refText(same));
      expect(nobleHashBackend.hexOfText(lone)).toBe(refText(same));
    }
  });

  it('installNodeHash switches every id to node:crypto; setHashBackend returns the previous backend', () => {
    expect(hashBackend().name).toBe('noble');
    const before = distinctionOfText('koru').id;
    installNodeHash();
    expect(hashBackend()).toBe(nodeHashBackend);
    expect(hashBackend().name).toBe('node');
    installNodeHash(); // idempotent
    expect(hashBackend().name).toBe('node');
    expect(distinctionOfText('koru').id).toBe(before);
    expect(sha256HexOfText('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256HexOfBytes(new Uint8Array([1, 2, 3]))).toBe(refBytes(new Uint8Array([1, 2, 3])));
    const previous = setHashBackend(nobleHashBackend);
    expect(previous).toBe(nodeHashBackend);
    expect(hashBackend().name).toBe('noble');
  });
});
