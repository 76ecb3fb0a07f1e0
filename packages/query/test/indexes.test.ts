import type { JsonValue } from '@koru/engine';
import { CausalStorage, SYSTEM_NAMESPACE } from '@koru/storage';
import { describe, expect, it } from 'vitest';
import { executeQuery } from '../src/execute.js';
import { Filter } from '../src/filter.js';
import { IndexSet, MAX_INDEXES_PER_NAMESPACE, MAX_INDEX_FIELD_LENGTH } from '../src/indexes.js';
import { planFilter } from '../src/plan.js';
import { SecondaryIndex } from '../src/secondary-index.js';

function keysIn(index: SecondaryIndex, range: Parameters<SecondaryIndex['collect']>[0]): string[] {
  const out = new Set<string>();
  index.collect(range, out);
  return [...out].sort();
}

describe('SecondaryIndex', () => {
  it('keeps one posting per value in the total order and follows updates and deletes', () => {
    const ix = new SecondaryIndex('users', 'age');
    const docs: Record<string, JsonValue> = {
      a: { age: 30 },
      b: { age: 31 },
      c: { age: 30 },
      d: { age: '30' },
      e: { age: null },
      f: { name: 'no age' },
      g: { age: [30] },
      h: 7,
    };
    for (const [k, v] of Object.entries(docs)) ix.update(k, v);
    expect(ix.size).toBe(6); // f and h have no age
    const point = (value: JsonValue) => ({ lo: { value, inclusive: true }, hi: { value, inclusive: true } });
    expect(keysIn(ix, point(30))).toEqual(['a', 'c']);
    expect(keysIn(ix, point(null))).toEqual(['e']);
    expect(keysIn(ix, point([30]))).toEqual(['g']);
    // gt 30 in the total order: 31, then every string, boolean, array and object.
    expect(keysIn(ix, { lo: { value: 30, inclusive: false } })).toEqual(['b', 'd', 'g']);
    expect(keysIn(ix, { hi: { value: 31, inclusive: false } })).toEqual(['a', 'c', 'e']);
    expect(keysIn(ix, { lo: { value: 30, inclusive: true }, hi: { value: 31, inclusive: true } })).toEqual(['a', 'b', 'c']);
    ix.update('a', { age: 31 });
    ix.update('c', undefined);
    ix.update('b', { age: 31, other: 1 }); // same indexed value: nothing moves
    expect(keysIn(ix, point(30))).toEqual([]);
    expect(keysIn(ix, point(31))).toEqual(['a', 'b']);
    ix.update('a', { no: 'age' });
    expect(keysIn(ix, point(31))).toEqual(['b']);
    expect(ix.size).toBe(4);
  });

  it('stops collecting past the cap it is given', () => {
    const ix = new SecondaryIndex('n', 'v');
    for (let i = 0; i < 100; i++) ix.update(`k${i}`, { v: i });
    const out = new Set<string>();
    expect(ix.collect({ lo: { value: 0, inclusive: true } }, out, 10)).toBe(false);
    expect(ix.collect({ lo: { value: 95, inclusive: true } }, new Set(), 10)).toBe(true);
  });

  it('indexes own properties only: a __proto__ field is data like any other', () => {
    const ix = new SecondaryIndex('n', '__proto__.x');
    const doc = JSON.parse('{"__proto__": {"x": 1}}') as JsonValue;
    ix.update('k', doc);
    ix.update('plain', { y: 1 });
    expect(keysIn(ix, { lo: { value: 1, inclusive: true }, hi: { value: 1, inclusive: true } })).toEqual(['k']);
  });
});

describe('planFilter', () => {
  const age = new SecondaryIndex('users', 'age');
  const city = new SecondaryIndex('users', 'city');
  const lookup = (p: string) => (p === 'age' ? age : p === 'city' ? city : undefined);
  const fields = (f: Filter) => planFilter(f, lookup)?.map((a) => a.index.field);

  it('uses eq, in and ranges on indexed fields and nothing else', () => {
    expect(fields(Filter.eq('age', 3))).toEqual(['age']);
    expect(fields(Filter.in('city', ['a', 'b']))).toEqual(['city']);
    expect(fields(Filter.gte('age', 3))).toEqual(['age']);
    expect(fields(Filter.eq('name', 'x'))).toBeUndefined();
    expect(fields(Filter.ne('age', 3))).toBeUndefined();
    expect(fields(Filter.not(Filter.eq('age', 3)))).toBeUndefined();
    expect(fields(Filter.exists('age'))).toBeUndefined();
    expect(fields(Filter.contains('city', 'a'))).toBeUndefined();
  });

  it('prefers points in an and, intersects ranges on one field, and needs every branch of an or', () => {
    expect(fields(Filter.and(Filter.gt('age', 3), Filter.eq('city', 'x')))).toEqual(['city']);
    const merged = planFilter(Filter.and(Filter.gte('age', 30), Filter.lt('age', 40), Filter.eq('name', 'x')), lookup)!;
    expect(merged).toHaveLength(1);
    expect(merged[0]!.ranges).toEqual([{ lo: { value: 30, inclusive: true }, hi: { value: 40, inclusive: false } }]);
    expect(fields(Filter.or(Filter.eq('age', 1), Filter.eq('city', 'x')))).toEqual(['age', 'city']);
    expect(fields(Filter.or(Filter.eq('age', 1), Filter.eq('name', 'x')))).toBeUndefined();
    expect(fields(Filter.or())).toBeUndefined();
  });
});

describe('IndexSet', () => {
  it('answers like a scan, in the same order, and says which ran', async () => {
    const s = await CausalStorage.open();
    for (let i = 0; i < 50; i++) await s.put('users', `u${i}`, { age: i % 10, name: `n${49 - i}` });
    const indexes = new IndexSet(s);
    await indexes.create('users', 'age');
    const spec = { filter: Filter.in('age', [3, 4]) };
    const viaIndex = indexes.execute('users', spec);
    const scan = executeQuery(s.entries('users'), spec);
    expect(viaIndex.rows).toEqual(scan.rows);
    expect(viaIndex.explain).toEqual({ strategy: 'index', indexes: ['age'], examined: 10 });
    expect(scan.explain).toEqual({ strategy: 'scan', indexes: [], examined: 50 });
    expect(indexes.execute('users', { filter: Filter.eq('name', 'n1') }).explain.strategy).toBe('scan');
  });

  it('is kept current by writes and deletes, also ones queued before it was created', async () => {
    const s = await CausalStorage.open();
    const indexes = new IndexSet(s);
    await s.put('t', 'a', { v: 1 });
    const queued = s.put('t', 'b', { v: 1 });
    await indexes.create('t', 'v');
    await queued;
    const ones = () => indexes.execute('t', { filter: Filter.eq('v', 1) }).rows.map((r) => r.key);
    expect(ones()).toEqual(['a', 'b']);
    await s.delete('t', 'a');
    await s.put('t', 'b', { v: 2 });
    await s.put('t', 'c', { v: 1 });
    expect(ones()).toEqual(['c']);
    await s.put('t', 'a', { v: 1 }); // written again after its delete: keeps its first-write position
    expect(ones()).toEqual(['a', 'c']);
  });

  it('persists definitions in the reserved namespace and rebuilds contents on first use', async () => {
    const s = await CausalStorage.open();
    await s.put('t', 'a', { v: 1 });
    const first = new IndexSet(s);
    const info = await first.create('t', 'v');
    expect(await first.create('t', 'v')).toBe(info);
    expect(s.systemEntries().map((v) => v.key)).toEqual(['index:t:v']);
    expect(s.listNamespaces()).toEqual(['t']);
    expect(() => s.get(SYSTEM_NAMESPACE, 'index:t:v')).toThrow(/reserved/);
    // A second set over the same store stands for a reopen: definitions come back, contents lazily.
    const second = new IndexSet(s);
    expect(second.list()).toEqual([info]);
    await s.put('t', 'b', { v: 1 });
    expect(second.execute('t', { filter: Filter.eq('v', 1) }).rows.map((r) => r.key)).toEqual(['a', 'b']);
    await second.drop('t', 'v');
    expect(second.list()).toEqual([]);
    expect(new IndexSet(s).list()).toEqual([]);
    await expect(second.drop('t', 'v')).rejects.toMatchObject({ code: 'INDEX_NOT_FOUND' });
  });

  it('enforces its limits and validates names and paths', async () => {
    const s = await CausalStorage.open();
    const indexes = new IndexSet(s);
    for (let i = 0; i < MAX_INDEXES_PER_NAMESPACE; i++) await indexes.create('t', `f${i}`);
    await expect(indexes.create('t', 'one.more')).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    await indexes.create('other', 'f0'); // the limit is per namespace
    await expect(indexes.create('t', 'x'.repeat(MAX_INDEX_FIELD_LENGTH + 1))).rejects.toMatchObject({ code: 'INVALID_QUERY' });
    await expect(indexes.create('_t', 'x')).rejects.toMatchObject({ code: 'INVALID_NAMESPACE' });
    await expect(indexes.create('t', 'a..b')).rejects.toMatchObject({ code: 'INVALID_QUERY', details: { path: 'field' } });
    await expect(indexes.create('t', '$x')).rejects.toMatchObject({ code: 'INVALID_QUERY' });
    expect(indexes.list('t')).toHaveLength(MAX_INDEXES_PER_NAMESPACE);
    expect(s.systemEntries()).toHaveLength(MAX_INDEXES_PER_NAMESPACE + 1);
  });
});
