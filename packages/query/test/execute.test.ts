import type { JsonValue } from '@koru/engine';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fcSeed } from '@koru/vitest-preset/helpers';
import { executeQuery, type Entry } from '../src/execute.js';
import { Filter } from '../src/filter.js';
import { Query, type QuerySpec } from '../src/query.js';

const people: Entry[] = [
  { key: 'p1', value: { name: 'Cy', age: 30, city: 'Oslo', address: { city: 'Oslo', zip: '0150' } } },
  { key: 'p2', value: { name: 'Al', age: 25, city: 'Rome' } },
  { key: 'p3', value: { name: 'Bo', age: 30, city: 'Rome', items: [{ sku: 'A', qty: 1 }] } },
  { key: 'p4', value: { name: 'Di', city: 'Oslo' } },
  { key: 'p5', value: { name: 'Ed', age: 41, city: 'Paris' } },
];
const keys = (r: { rows: readonly Entry[] }) => r.rows.map((e) => e.key);

describe('executeQuery', () => {
  it('returns everything in input order for an empty spec', () => {
    const r = executeQuery(people, {});
    expect(keys(r)).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
    expect(r.total).toBe(5);
  });

  it('filters and counts the matches before paging', () => {
    const r = executeQuery(people, Query.new().filter(Filter.eq('city', 'Rome')).limit(1).spec);
    expect(keys(r)).toEqual(['p2']);
    expect(r.total).toBe(2);
  });

  it('sorts ascending and descending, missing first ascending, stable on ties', () => {
    expect(keys(executeQuery(people, Query.new().sort('age').spec))).toEqual(['p4', 'p2', 'p1', 'p3', 'p5']);
    expect(keys(executeQuery(people, Query.new().sort('age', 'desc').spec))).toEqual(['p5', 'p1', 'p3', 'p2', 'p4']);
    expect(keys(executeQuery(people, Query.new().sort('age').sort('name').spec))).toEqual(['p4', 'p2', 'p3', 'p1', 'p5']);
    expect(keys(executeQuery(people, Query.new().sort('city', 'desc').sort('name', 'desc').spec))).toEqual(['p3', 'p2', 'p5', 'p4', 'p1']);
  });

  it('sorts mixed types by the total order', () => {
    const values: JsonValue[] = [{ a: 1 }, [1], true, 'x', 3, null];
    const entries = [...values.map((v, i) => ({ key: `k${i}`, value: { v } })), { key: 'none', value: {} }];
    const asc = executeQuery(entries, { sort: [{ path: 'v', direction: 'asc' }] });
    expect(keys(asc)).toEqual(['none', 'k5', 'k4', 'k3', 'k2', 'k1', 'k0']);
    const desc = executeQuery(entries, { sort: [{ path: 'v', direction: 'desc' }] });
    expect(keys(desc)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'none']);
  });

  it('applies offset and limit after sorting', () => {
    const q = Query.new().sort('name');
    expect(keys(executeQuery(people, q.offset(1).limit(2).spec))).toEqual(['p3', 'p1']);
    expect(keys(executeQuery(people, q.offset(4).limit(10).spec))).toEqual(['p5']);
    expect(keys(executeQuery(people, q.offset(9).spec))).toEqual([]);
    expect(keys(executeQuery(people, q.limit(0).spec))).toEqual([]);
    expect(executeQuery(people, q.offset(9).spec).total).toBe(5);
  });

  it('projects the selected dotted paths into nested objects', () => {
    const r = executeQuery(people, Query.new().select(['name', 'address.city', 'items.0.sku', 'nope.x']).spec);
    expect(r.rows.map((e) => e.value)).toEqual([
      { name: 'Cy', address: { city: 'Oslo' } },
      { name: 'Al' },
      { name: 'Bo', items: { '0': { sku: 'A' } } },
      { name: 'Di' },
      { name: 'Ed' },
    ]);
    const prefix = executeQuery(people.slice(0, 1), { select: ['address.zip', 'address'] });
    expect(prefix.rows[0]!.value).toEqual({ address: { city: 'Oslo', zip: '0150' } });
    expect(executeQuery([{ key: 'n', value: 5 }], { select: ['a'] }).rows[0]!.value).toEqual({});
  });

  it('keeps __proto__ as own data in projections and never pollutes', () => {
    const doc = JSON.parse('{"__proto__": {"polluted": true}, "a": {"__proto__": {"polluted": true}}}') as JsonValue;
    const r = executeQuery([{ key: 'x', value: doc }], { select: ['__proto__.polluted', 'a.__proto__'], filter: Filter.exists('__proto__') });
    const v = r.rows[0]!.value as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(['__proto__', 'a']);
    expect(JSON.stringify(v)).toBe('{"__proto__":{"polluted":true},"a":{"__proto__":{"polluted":true}}}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('validates hand-written specs', () => {
    const bad: Array<[QuerySpec, string]> = [
      [{ offset: -1 }, 'offset'],
      [{ limit: 1.5 }, 'limit'],
      [{ sort: [{ path: 'a', direction: 'up' as 'asc' }] }, 'sort.0.direction'],
      [{ sort: [{ path: 'a..b', direction: 'asc' }] }, 'sort.0.path'],
      [{ select: ['ok', ''] }, 'select.1'],
      [{ filter: { op: 'eq', path: '$x', value: 1 } }, 'path'],
    ];
    for (const [spec, path] of bad) {
      expect(() => executeQuery(people, spec), JSON.stringify(spec)).toThrow(
        expect.objectContaining({ details: expect.objectContaining({ reason: 'INVALID_QUERY', path }) }),
      );
    }
  });

  it('freezes its results and accepts any iterable', () => {
    function* gen() {
      yield* people;
    }
    const r = executeQuery(gen(), Query.new().select(['address']).limit(1).spec);
    expect(Object.isFrozen(r)).toBe(true);
    expect(Object.isFrozen(r.rows)).toBe(true);
    expect(Object.isFrozen(r.rows[0])).toBe(true);
    expect(Object.isFrozen((r.rows[0]!.value as { address: object }).address)).toBe(true);
  });
});

describe('executeQuery: top rows without a full sort', () => {
  it('a small limit over many matches gives exactly the rows of a full stable sort (property)', () => {
    const doc = fc.record({ a: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constant(null), fc.string({ maxLength: 2 })), b: fc.integer({ min: 0, max: 3 }) }, { requiredKeys: ['b'] });
    fc.assert(
      fc.property(fc.array(doc, { minLength: 0, maxLength: 120 }), fc.nat({ max: 6 }), fc.nat({ max: 6 }), fc.boolean(), (docs, offset, limit, desc) => {
        const entries = docs.map((value, i) => ({ key: `k${i}`, value }));
        const sorted = Query.new().sort('a', desc ? 'desc' : 'asc').sort('b');
        const full = executeQuery(entries, sorted.spec).rows.map((r) => r.key);
        const paged = executeQuery(entries, sorted.offset(offset).limit(limit).spec);
        expect(paged.rows.map((r) => r.key)).toEqual(full.slice(offset, offset + limit));
        expect(paged.total).toBe(docs.length);
      }),
      { seed: fcSeed('top rows'), numRuns: 300 },
    );
  });
});
