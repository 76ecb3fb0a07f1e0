// The memtable against a reference model (a Map plus a sorted key array): gets, cursors
// (seek, scan, seekToFirst), entries() and the byte count agree after any mix of puts,
// replacements and deletion markers; cursors refuse to run on after a new key.
import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Memtable, MEMTABLE_ENTRY_OVERHEAD } from '../src/lsm/memtable.js';
import { KIND_DELETE, KIND_PUT, type EntryKind } from '../src/lsm/types.js';

type Op = { key: string; kind: EntryKind; value: Uint8Array };

// Short keys over a small alphabet (with bytes 0 and 255) so replacements and shared
// prefixes are frequent; many ops so chunks split.
const keyArb = fc.array(fc.constantFrom(0, 1, 97, 98, 127, 128, 255), { minLength: 0, maxLength: 4 }).map((cs) => String.fromCharCode(...cs));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ key: keyArb, kind: fc.constant<EntryKind>(KIND_PUT), value: fc.uint8Array({ maxLength: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ key: keyArb, kind: fc.constant<EntryKind>(KIND_DELETE), value: fc.constant(new Uint8Array(0)) }) },
);

function model(ops: readonly Op[]): { map: Map<string, Op>; sorted: string[] } {
  const map = new Map<string, Op>();
  for (const op of ops) map.set(op.key, op);
  return { map, sorted: [...map.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) };
}

function scan(t: Memtable, from?: string): Array<[string, EntryKind, number[]]> {
  const c = t.cursor();
  if (from === undefined) c.seekToFirst();
  else c.seek(from);
  const out: Array<[string, EntryKind, number[]]> = [];
  for (; c.valid(); c.next()) out.push([c.key(), c.kind(), [...c.value()]]);
  return out;
}

describe('Memtable', () => {
  it('agrees with a sorted reference under puts, replacements and deletion markers', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 3000 }), fc.array(keyArb, { maxLength: 20 }), (ops, probes) => {
        const t = new Memtable();
        for (const op of ops) t.put(op.key, op.kind, op.value);
        const { map, sorted } = model(ops);
        expect(t.count).toBe(map.size);
        let bytes = 0;
        for (const [k, op] of map) bytes += k.length + op.value.byteLength + MEMTABLE_ENTRY_OVERHEAD;
        expect(t.bytes).toBe(bytes);
        const expected = sorted.map((k): [string, EntryKind, number[]] => [k, map.get(k)!.kind, [...map.get(k)!.value]]);
        expect(scan(t)).toEqual(expected);
        expect(t.entries().map((e): [string, EntryKind, number[]] => [e.key, e.kind, [...e.value]])).toEqual(expected);
        for (const p of probes) {
          const found = t.get(p);
          const want = map.get(p);
          expect(found === undefined ? undefined : { kind: found.kind, value: [...found.value] }).toEqual(
            want === undefined ? undefined : { kind: want.kind, value: [...want.value] },
          );
          expect(scan(t, p)).toEqual(expected.filter(([k]) => k >= p));
        }
      }),
      { seed: fcSeed('memtable vs reference'), numRuns: 200 },
    );
  });

  it('keeps order across many chunk splits (random inserts, sequential and reverse)', () => {
    for (const order of ['random', 'ascending', 'descending'] as const) {
      const n = 20_000;
      const keys = Array.from({ length: n }, (_, i) => `k${String(i).padStart(6, '0')}`);
      const input = order === 'ascending' ? keys : order === 'descending' ? [...keys].reverse() : [...keys].sort(() => Math.random() - 0.5);
      const t = new Memtable();
      for (const k of input) t.put(k, KIND_PUT, new Uint8Array([k.length]));
      expect(t.entries().map((e) => e.key)).toEqual(keys);
      const c = t.cursor();
      c.seek('k010000');
      expect(c.key()).toBe('k010000');
      c.seek('k0099995');
      expect(c.key()).toBe('k010000');
      c.seek('k1');
      expect(c.valid()).toBe(false);
      c.seek('');
      expect(c.key()).toBe('k000000');
    }
  });

  it('a cursor sees replacements but refuses to go on after a new key', () => {
    const t = new Memtable();
    t.put('a', KIND_PUT, new Uint8Array([1]));
    t.put('c', KIND_PUT, new Uint8Array([3]));
    const c = t.cursor();
    c.seekToFirst();
    t.put('a', KIND_DELETE, new Uint8Array(0));
    expect(c.kind()).toBe(KIND_DELETE);
    t.put('b', KIND_PUT, new Uint8Array([2]));
    expect(() => c.next()).toThrow(/new key/);
    expect(() => c.valid()).toThrow(/new key/);
  });

  it('an empty table has no entries and an invalid cursor; an off-entry cursor throws', () => {
    const t = new Memtable();
    expect(t.count).toBe(0);
    expect(t.bytes).toBe(0);
    expect(t.entries()).toEqual([]);
    expect(t.get('x')).toBeUndefined();
    const c = t.cursor();
    c.seekToFirst();
    expect(c.valid()).toBe(false);
    c.seek('');
    expect(c.valid()).toBe(false);
    expect(() => c.key()).toThrow(RangeError);
    expect(() => c.next()).toThrow(RangeError);
  });

  it('rejects an unknown kind and a deletion marker with a value', () => {
    const t = new Memtable();
    expect(() => t.put('a', 2 as EntryKind, new Uint8Array(0))).toThrow(RangeError);
    expect(() => t.put('a', KIND_DELETE, new Uint8Array([1]))).toThrow(RangeError);
    expect(t.count).toBe(0);
  });

  it('counts bytes through replacements', () => {
    const t = new Memtable();
    t.put('ab', KIND_PUT, new Uint8Array(10));
    expect(t.bytes).toBe(2 + 10 + MEMTABLE_ENTRY_OVERHEAD);
    t.put('ab', KIND_PUT, new Uint8Array(3));
    expect(t.bytes).toBe(2 + 3 + MEMTABLE_ENTRY_OVERHEAD);
    t.put('ab', KIND_DELETE, new Uint8Array(0));
    expect(t.bytes).toBe(2 + MEMTABLE_ENTRY_OVERHEAD);
  });
});
