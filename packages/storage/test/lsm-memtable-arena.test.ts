// The memtable copies values into blocks of bytes (its arena) and keeps large ones as
// given: values of every size, across block boundaries and replaced many times, read
// back byte for byte through get, cursors and entries().
import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Memtable } from '../src/lsm/memtable.js';
import { KIND_DELETE, KIND_PUT, type EntryKind } from '../src/lsm/types.js';

/** A value of `n` bytes derived from `seed` (so a wrong offset or length shows). */
function bytesOf(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x = Math.imul(x ^ (x >>> 13), 0x5bd1e995) + i;
    out[i] = x & 0xff;
  }
  return out;
}

// Sizes around the arena's limits: empty, small, just under and over the largest copied
// value (16 KiB), and large enough that a few fill a 256 KiB block.
const sizeArb = fc.oneof(fc.constantFrom(0, 1, 63, 64, 65, 16_383, 16_384, 16_385, 40_000), fc.nat({ max: 20_000 }));
const opArb = fc.record({
  key: fc.nat({ max: 40 }).map((k) => `k${String(k).padStart(3, '0')}`),
  size: sizeArb,
  seed: fc.nat(),
  del: fc.nat({ max: 4 }).map((n) => n === 0),
});

/** Byte-for-byte equality (a deep equal of large arrays is slow). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

describe('Memtable arena', () => {
  it('reads back every value byte for byte, whatever its size and however often its key was replaced', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 300 }), (ops) => {
        const t = new Memtable();
        const model = new Map<string, { kind: EntryKind; value: Uint8Array }>();
        for (const op of ops) {
          const kind = op.del ? KIND_DELETE : KIND_PUT;
          const value = op.del ? new Uint8Array(0) : bytesOf(op.size, op.seed);
          t.put(op.key, kind, value);
          model.set(op.key, { kind, value: value.slice() });
        }
        const keys = [...model.keys()].sort();
        for (const k of keys) {
          const found = t.get(k)!;
          expect(found.kind).toBe(model.get(k)!.kind);
          expect(same(found.value, model.get(k)!.value)).toBe(true);
        }
        const c = t.cursor();
        c.seekToFirst();
        for (const k of keys) {
          expect(c.valid()).toBe(true);
          expect(c.key()).toBe(k);
          expect(c.kind()).toBe(model.get(k)!.kind);
          expect(same(c.value(), model.get(k)!.value)).toBe(true);
          c.next();
        }
        expect(c.valid()).toBe(false);
        const entries = t.entries();
        expect(entries.map((e) => [e.key, e.kind])).toEqual(keys.map((k) => [k, model.get(k)!.kind]));
        for (const e of entries) expect(same(e.value, model.get(e.key)!.value)).toBe(true);
      }),
      { seed: fcSeed('memtable arena'), numRuns: 60 },
    );
  });

  it('keeps a value read earlier intact while later values fill the arena', () => {
    const t = new Memtable();
    t.put('a', KIND_PUT, bytesOf(1000, 7));
    const held = t.get('a')!.value;
    for (let i = 0; i < 2000; i++) t.put(`b${i}`, KIND_PUT, bytesOf(1000, i));
    t.put('a', KIND_PUT, bytesOf(1000, 8));
    expect(same(held, bytesOf(1000, 7))).toBe(true);
    expect(same(t.get('a')!.value, bytesOf(1000, 8))).toBe(true);
    expect(same(t.get('b1999')!.value, bytesOf(1000, 1999))).toBe(true);
  });
});
