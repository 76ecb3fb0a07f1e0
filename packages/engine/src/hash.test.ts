import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { distinctionOfText } from './distinction.js';
import {
  fromHex,
  hashBackend,
  nobleHashBackend,
  setHashBackend,
  sha256HexOfBytes,
  sha256HexOfText,
  toHex,
  type HashBackend,
} from './hash.js';

const ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

describe('hex', () => {
  it('toHex is lowercase, two digits per byte; fromHex inverts it (upper case too)', () => {
    expect(toHex(new Uint8Array([0, 1, 15, 16, 171, 255]))).toBe('00010f10abff');
    expect(toHex(new Uint8Array())).toBe('');
    expect(Array.from(fromHex('00010F10abFF'))).toEqual([0, 1, 15, 16, 171, 255]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const h = toHex(bytes);
        expect(h).toMatch(/^(?:[0-9a-f]{2})*$/);
        expect(fromHex(h)).toEqual(bytes);
        expect(fromHex(h.toUpperCase())).toEqual(bytes);
      }),
      { seed: fcSeed('hash: hex round trip'), numRuns: 300 },
    );
  });
});

describe('hash backend', () => {
  const original = hashBackend();
  afterEach(() => {
    setHashBackend(original);
  });

  it('defaults to @noble/hashes', () => {
    expect(original).toBe(nobleHashBackend);
    expect(nobleHashBackend.name).toBe('noble');
    expect(sha256HexOfText('abc')).toBe(ABC);
    expect(sha256HexOfBytes(new Uint8Array([0x61, 0x62, 0x63]))).toBe(ABC);
    expect(nobleHashBackend.hexOfText('abc')).toBe(ABC);
  });

  it('setHashBackend installs a backend every id goes through and returns the previous one', () => {
    const calls: string[] = [];
    const fake: HashBackend = {
      name: 'fake',
      hexOfText: (t) => {
        calls.push(`text:${t}`);
        return nobleHashBackend.hexOfText(t);
      },
      hexOfBytes: (b) => {
        calls.push(`bytes:${b.length}`);
        return nobleHashBackend.hexOfBytes(b);
      },
    };
    expect(setHashBackend(fake)).toBe(original);
    expect(hashBackend()).toBe(fake);
    expect(sha256HexOfText('abc')).toBe(ABC);
    expect(sha256HexOfBytes(new Uint8Array(3))).toHaveLength(64);
    expect(distinctionOfText('abc').id).toBe(ABC);
    expect(calls).toEqual(['text:abc', 'bytes:3', 'text:abc']);
    expect(setHashBackend(original)).toBe(fake);
    expect(hashBackend()).toBe(original);
    expect(sha256HexOfText('abc')).toBe(ABC);
    expect(calls).toHaveLength(3);
  });
});
