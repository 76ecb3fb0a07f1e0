import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  d0,
  d1,
  distinctionOf,
  distinctionOfBytes,
  distinctionOfText,
  synthesize,
  synthesizeAll,
  type Distinction,
} from './distinction.js';
import { sha256HexOfText } from './hash.js';
import { isId } from './ids.js';

const encoder = new TextEncoder();
const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** Distinctions made from arbitrary bytes (so their ids are arbitrary SHA-256 digests). */
const distinctionArb: fc.Arbitrary<Distinction> = fc
  .oneof(
    fc.uint8Array({ maxLength: 64 }).map(distinctionOfBytes),
    fc.constantFrom(d0, d1),
    fc.string({ unit: 'binary' }).map(distinctionOfText),
  );

/** Two distinctions with different ids. */
const distinctPairArb = fc
  .tuple(distinctionArb, distinctionArb)
  .filter(([a, b]) => a.id !== b.id);

describe('primordial distinctions', () => {
  it('d0 and d1 are distinct 64-hex ids: SHA-256 of "koru:d0" and "koru:d1"', () => {
    expect(d0.id).not.toBe(d1.id);
    expect(isId(d0.id)).toBe(true);
    expect(isId(d1.id)).toBe(true);
    expect(d0.id).toBe(sha256HexOfText('koru:d0'));
    expect(d1.id).toBe(sha256HexOfText('koru:d1'));
    expect(synthesize(d0, d1).id).not.toBe(d0.id);
    expect(synthesize(d0, d1).id).not.toBe(d1.id);
  });

  it('distinctions are frozen, identified solely by their id', () => {
    expect(Object.isFrozen(d0)).toBe(true);
    expect(Object.isFrozen(distinctionOfText('x'))).toBe(true);
    expect(Object.keys(distinctionOfText('x'))).toEqual(['id']);
    expect(distinctionOf(d1.id)).toEqual(d1);
  });
});

describe('bytes map to distinctions canonically', () => {
  it('is plain SHA-256 (FIPS 180-2 test vectors)', () => {
    expect(distinctionOfText('abc').id).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(distinctionOfText('').id).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(distinctionOfBytes(new Uint8Array()).id).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(distinctionOfText('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq').id).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
    expect(distinctionOfBytes(new Uint8Array(1_000_000).fill(0x61)).id).toBe(
      'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0',
    );
    expect(distinctionOfBytes(encoder.encode('abc')).id).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('hashes text as its UTF-8 bytes (multi-byte and astral characters included)', () => {
    // SHA-256 of the UTF-8 bytes c3 a9 (é) and f0 9f 98 80 (😀).
    expect(distinctionOfText('é').id).toBe(distinctionOfBytes(new Uint8Array([0xc3, 0xa9])).id);
    expect(distinctionOfText('😀').id).toBe(distinctionOfBytes(new Uint8Array([0xf0, 0x9f, 0x98, 0x80])).id);
  });

  it('same bytes give the same id, whether text or bytes, views or copies (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.nat({ max: 16 }), (s, pad) => {
        const bytes = encoder.encode(s);
        const id = distinctionOfText(s).id;
        expect(isId(id)).toBe(true);
        expect(distinctionOfBytes(bytes).id).toBe(id);
        expect(distinctionOfBytes(Uint8Array.from(bytes)).id).toBe(id);
        // A view into a larger buffer hashes only its own bytes.
        const big = new Uint8Array(pad + bytes.length + pad).fill(0xff);
        big.set(bytes, pad);
        expect(distinctionOfBytes(big.subarray(pad, pad + bytes.length)).id).toBe(id);
        expect(distinctionOfText(s).id).toBe(id);
      }),
      { seed: fcSeed('distinction: bytes canonical'), numRuns: 500 },
    );
  });
});

describe('synthesis axioms', () => {
  it('is deterministic: same inputs, same id, recomputed from fresh objects', () => {
    fc.assert(
      fc.property(distinctionArb, distinctionArb, (a, b) => {
        const first = synthesize(a, b).id;
        expect(synthesize(a, b).id).toBe(first);
        expect(synthesize(distinctionOf(a.id), distinctionOf(b.id)).id).toBe(first);
        expect(isId(first)).toBe(true);
      }),
      { seed: fcSeed('distinction: deterministic'), numRuns: 500 },
    );
  });

  it('is symmetric: synthesize(a, b) = synthesize(b, a)', () => {
    fc.assert(
      fc.property(distinctionArb, distinctionArb, (a, b) => {
        expect(synthesize(a, b).id).toBe(synthesize(b, a).id);
      }),
      { seed: fcSeed('distinction: symmetric'), numRuns: 500 },
    );
  });

  it('is irreflexive: synthesize(a, a) = a', () => {
    fc.assert(
      fc.property(distinctionArb, (a) => {
        expect(synthesize(a, a).id).toBe(a.id);
        expect(synthesize(a, distinctionOf(a.id)).id).toBe(a.id);
      }),
      { seed: fcSeed('distinction: irreflexive'), numRuns: 300 },
    );
    expect(synthesize(d0, d0)).toEqual(d0);
  });

  it('distinct inputs give distinct distinctions', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.uint8Array({ maxLength: 48 }), { minLength: 2, maxLength: 40, selector: hex }),
        (inputs) => {
          const ids = inputs.map((b) => distinctionOfBytes(b).id);
          expect(new Set(ids).size).toBe(inputs.length);
        },
      ),
      { seed: fcSeed('distinction: no collisions on bytes'), numRuns: 200 },
    );
    fc.assert(
      fc.property(distinctPairArb, distinctionArb, ([a, b], c) => {
        const ab = synthesize(a, b);
        expect(ab.id).not.toBe(a.id);
        expect(ab.id).not.toBe(b.id);
        // Changing either side changes the synthesis.
        if (c.id !== b.id && c.id !== a.id) {
          expect(synthesize(a, c).id).not.toBe(ab.id);
          expect(synthesize(c, b).id).not.toBe(ab.id);
        }
        // Synthesis is separated from the bytes domain for these inputs.
        expect(ab.id).not.toBe(distinctionOfText(a.id + b.id).id);
      }),
      { seed: fcSeed('distinction: synthesis differs from inputs'), numRuns: 500 },
    );
  });

  it('follows the documented formula: SHA-256 of "koru:syn:" + smaller id + ":" + larger id', () => {
    const [lo, hi] = d0.id < d1.id ? [d0, d1] : [d1, d0];
    expect(synthesize(d1, d0).id).toBe(sha256HexOfText(`koru:syn:${lo.id}:${hi.id}`));
  });
});

describe('synthesizeAll', () => {
  it('folds left to right; d0 for none; the item itself for one', () => {
    const [a, b, c] = ['a', 'b', 'c'].map(distinctionOfText) as [Distinction, Distinction, Distinction];
    expect(synthesizeAll([])).toBe(d0);
    expect(synthesizeAll([a])).toBe(a);
    expect(synthesizeAll([a, b]).id).toBe(synthesize(a, b).id);
    expect(synthesizeAll([a, b, c]).id).toBe(synthesize(synthesize(a, b), c).id);
    // Any iterable works.
    expect(synthesizeAll(new Set([a, b, c])).id).toBe(synthesize(synthesize(a, b), c).id);
  });
});
