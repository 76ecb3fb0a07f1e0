import type { JsonValue } from '@koru/engine';
import { describe, expect, it } from 'vitest';
import { Agg, aggregate, type Aggregation } from '../src/aggregate.js';
import { InvalidQueryError } from '../src/errors.js';

const orders: JsonValue[] = [
  { status: 'paid', total: 10, tags: ['a'] },
  { status: 'open', total: 2.5 },
  { status: 'paid', total: '7' },
  { status: 'paid', total: 20, tags: ['a'] },
  { total: null },
  { status: 'open', tags: ['b'] },
];

describe('aggregate', () => {
  it('count: all values, or those with the path', () => {
    expect(aggregate(orders, Agg.count())).toBe(6);
    expect(aggregate(orders, Agg.count('total'))).toBe(5);
    expect(aggregate([], Agg.count())).toBe(0);
  });

  it('sum / avg ignore non-numbers; empty sum is 0, empty avg is null', () => {
    expect(aggregate(orders, Agg.sum('total'))).toBe(32.5);
    expect(aggregate(orders, Agg.avg('total'))).toBeCloseTo(32.5 / 3);
    expect(aggregate([], Agg.sum('total'))).toBe(0);
    expect(aggregate([], Agg.avg('total'))).toBeNull();
    expect(aggregate(['x', null, true], Agg.sum())).toBe(0);
    expect(aggregate(['x', null, true], Agg.avg())).toBeNull();
    expect(aggregate([0.1, 0.2, 0.3], Agg.sum())).toBe(0.6);
    expect(aggregate([1e16, 1, -1e16], Agg.sum())).toBe(1);
  });

  it('min / max use the total order over every present value; empty is null', () => {
    expect(aggregate(orders, Agg.min('total'))).toBeNull(); // null is the least present value
    expect(aggregate(orders, Agg.max('total'))).toBe('7'); // strings after numbers
    expect(aggregate([3, 1, 2], Agg.min())).toBe(1);
    expect(aggregate([3, 1, 2], Agg.max())).toBe(3);
    expect(aggregate([[1], { a: 1 }, true], Agg.max())).toEqual({ a: 1 });
    expect(aggregate([], Agg.min())).toBeNull();
    expect(aggregate([{}], Agg.max('x'))).toBeNull();
  });

  it('distinct: deep-equal values once, sorted; empty is []', () => {
    expect(aggregate(orders, Agg.distinct('status'))).toEqual(['open', 'paid']);
    expect(aggregate(orders, Agg.distinct('tags'))).toEqual([['a'], ['b']]);
    expect(aggregate([{ a: 1, b: 2 }, { b: 2, a: 1 }, 1, '1', 0, -0], Agg.distinct())).toEqual([0, 1, '1', { a: 1, b: 2 }]);
    expect(aggregate([], Agg.distinct())).toEqual([]);
  });

  it('groupBy: [{ group, value }] sorted by group, missing under null; empty is []', () => {
    expect(aggregate(orders, Agg.groupBy('status', Agg.count()))).toEqual([
      { group: null, value: 1 },
      { group: 'open', value: 2 },
      { group: 'paid', value: 3 },
    ]);
    expect(aggregate(orders, Agg.groupBy('status', Agg.sum('total')))).toEqual([
      { group: null, value: 0 },
      { group: 'open', value: 2.5 },
      { group: 'paid', value: 30 },
    ]);
    expect(aggregate(orders, Agg.groupBy('tags', Agg.groupBy('status', Agg.count())))).toEqual([
      { group: null, value: [{ group: null, value: 1 }, { group: 'open', value: 1 }, { group: 'paid', value: 1 }] },
      { group: ['a'], value: [{ group: 'paid', value: 2 }] },
      { group: ['b'], value: [{ group: 'open', value: 1 }] },
    ]);
    expect(aggregate([], Agg.groupBy('x', Agg.count()))).toEqual([]);
  });

  it('groups __proto__ values as data', () => {
    const docs = [JSON.parse('{"k": "__proto__"}'), JSON.parse('{"k": "constructor"}'), JSON.parse('{"k": "__proto__"}')] as JsonValue[];
    expect(aggregate(docs, Agg.groupBy('k', Agg.count()))).toEqual([
      { group: '__proto__', value: 2 },
      { group: 'constructor', value: 1 },
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('accepts any iterable and rejects malformed aggregations', () => {
    expect(aggregate(new Set<JsonValue>([1, 2, 3]), Agg.sum())).toBe(6);
    expect(() => aggregate([], { op: 'median' } as unknown as Aggregation)).toThrow(InvalidQueryError);
    expect(() => aggregate([], { op: 'sum', path: 'a..b' })).toThrow(InvalidQueryError);
    expect(() => aggregate([], Agg.groupBy('g', { op: 'nope' } as unknown as Aggregation))).toThrow(
      expect.objectContaining({ details: expect.objectContaining({ path: 'aggregation.op' }) }),
    );
  });
});
