// Materializing versions from records: the fast paths give exactly what the general code gives.
import { deepFreeze, formatHlc, HLC_MAX_LOGICAL, HLC_MAX_WALL } from '@koru/engine';
import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryDirectory } from '../src/lsm/memory-directory.js';
import { hexOfBytes, hexOfKey } from '../src/record-ids.js';
import { hlcOfStamp } from '../src/version-store-reads.js';
import { VersionStore } from '../src/version-store.js';
import { openTinyVersionTree as openTree } from './lsm-helpers.js';

const hexOf = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

describe('materializing versions', () => {
  it('hlcOfStamp is formatHlc for every stamp in the format', () => {
    const wall = fc.oneof(fc.integer({ min: 0, max: HLC_MAX_WALL }), fc.constantFrom(0, 99_999_999, 100_000_000, 1_796_547_604_718, HLC_MAX_WALL));
    const logical = fc.oneof(fc.integer({ min: 0, max: HLC_MAX_LOGICAL }), fc.constantFrom(0, HLC_MAX_LOGICAL));
    fc.assert(
      fc.property(wall, logical, (w, l) => {
        expect(hlcOfStamp(w, l)).toBe(formatHlc({ wall: w, logical: l }));
      }),
      { seed: fcSeed('materialize: hlc'), numRuns: 3000 },
    );
  });

  it('hex ids of bytes and of binary-string keys, complemented or not', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 40, maxLength: 40 }), fc.integer({ min: 0, max: 8 }), (b, at) => {
        const id = b.subarray(at, at + 32);
        expect(hexOfBytes(b, at)).toBe(hexOf(id));
        const k = String.fromCharCode(...b);
        expect(hexOfKey(k, at, 'k')).toBe(hexOf(id));
        expect(hexOfKey(k, at, 'k', 0xff)).toBe(hexOf(id.map((x) => 0xff - x)));
      }),
      { seed: fcSeed('materialize: hex'), numRuns: 1000 },
    );
    // A char code above 0xFF is no byte: CORRUPTION, not a wrong id.
    expect(() => hexOfKey('\u0100' + 'a'.repeat(40), 0, 'k')).toThrow(/not a binary string/);
    expect(() => hexOfKey('a'.repeat(40) + '\u0100', 9, 'k', 0xff)).toThrow(/not a binary string/);
  });

  it('values read back are deeply frozen, nested objects and arrays included, and equal to what was written', async () => {
    const tree = openTree(new MemoryDirectory());
    const store = new VersionStore(tree, { cacheBytes: 0 });
    const value = { a: [1, { b: [2, [3, { c: 'x' }]] }], d: { e: { f: null } }, ['__proto__']: { g: 1 } };
    const text = JSON.stringify(value);
    const base = { namespace: 'ns', key: 'k', previousVersion: null, logical: 0, node: 'n1', deleted: false } as const;
    store.commit([{ ...base, versionId: '01'.repeat(32), valueId: '11'.repeat(32), valueText: text, wall: 10 }]);
    const got = store.history('ns', 'k')[0]!.value as Record<string, unknown>;
    expect(JSON.stringify(got)).toBe(text);
    const walk = (v: unknown): void => {
      if (typeof v !== 'object' || v === null) return;
      expect(Object.isFrozen(v)).toBe(true);
      for (const k of Object.keys(v)) walk((v as Record<string, unknown>)[k]);
    };
    walk(got);
    expect(got).toEqual(deepFreeze(JSON.parse(text)));
    await tree.close();
  });
});
