import { ErrorCodes, KoruError } from '@koru/engine';
import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesKey, keyBytes } from '../src/lsm/types.js';
import { decodeHead, encodeHead, headKeyOf, prefixOfHeadKey } from '../src/head-records.js';
import { allocateRecord, recordBytesOfKey } from '../src/record-slab.js';
import { keyPrefix, versionKey } from '../src/version-records.js';

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return e instanceof KoruError ? e.code : 'not a KoruError';
  }
  return undefined;
};

const binaryString = (minLength: number, maxLength: number) => fc.uint8Array({ minLength, maxLength }).map((b) => bytesKey(b));
const vkeyArb = fc.oneof(binaryString(1, 300), fc.tuple(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), fc.nat(1e12), fc.nat(1000), fc.string(), fc.uint8Array({ minLength: 32, maxLength: 32 })).map(([ns, k, w, l, node, id]) => versionKey(ns, k, w, l, node, Buffer.from(id).toString('hex'))));

describe('head records', () => {
  it('round-trip (record key and a non-empty record), and records encoded later never overwrite earlier ones', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(vkeyArb, fc.uint8Array({ minLength: 2, maxLength: 600 })), { minLength: 1, maxLength: 200 }), (heads) => {
        const encoded = heads.map(([vkey, record]) => encodeHead(vkey, record));
        heads.forEach(([vkey, record], i) => {
          const h = decodeHead(encoded[i]!);
          expect(h.vkey).toBe(vkey);
          expect(Array.from(h.record)).toEqual(Array.from(record));
        });
      }),
      { seed: fcSeed('head-records: round-trip'), numRuns: 200 },
    );
  });

  it('have the documented bytes: varint key length | key | record', () => {
    const vkey = 'V' + 'k'.repeat(200);
    expect(Array.from(encodeHead(vkey, Uint8Array.of(9, 8)))).toEqual([201, 1, ...keyBytes(vkey), 9, 8]);
  });

  it('refuse malformed bytes with CORRUPTION: no key length, a key past the end, an empty key', () => {
    const good = encodeHead('Vab', Uint8Array.of(1, 2));
    for (const bad of [new Uint8Array(0), Uint8Array.of(0x80, 0x80, 0x80, 0x80, 1), Uint8Array.of(0, 1), Uint8Array.of(5, 0x56, 0x61), good.subarray(0, 4)]) {
      expect(codeOf(() => decodeHead(bad))).toBe(ErrorCodes.CORRUPTION);
    }
  });

  it('keys: the key prefix under tag H, and back', () => {
    const p = keyPrefix('ns', 'k');
    expect(headKeyOf(p)).toBe('H' + p.slice(1));
    expect(prefixOfHeadKey(headKeyOf(p))).toBe(p);
  });
});

describe('record slab', () => {
  it('gives fresh zeroed bytes that never overlap, and the bytes of binary strings', () => {
    fc.assert(
      fc.property(fc.array(binaryString(0, 5000), { minLength: 1, maxLength: 100 }), (keys) => {
        const views = keys.map((k) => recordBytesOfKey(k));
        const fresh = allocateRecord(64);
        expect(fresh.every((b) => b === 0)).toBe(true);
        keys.forEach((k, i) => expect(bytesKey(views[i]!)).toBe(k));
      }),
      { seed: fcSeed('record-slab: views'), numRuns: 100 },
    );
  });
});
