// Aggregations inside a query, and what APIs taking a filter or a query accept.
import { describe, expect, it } from 'vitest';
import { Agg, Aggregation } from '../src/aggregate.js';
import { InvalidQueryError } from '../src/errors.js';
import { executeQuery } from '../src/execute.js';
import { Filter } from '../src/filter.js';
import { filterOf, matcherOf } from '../src/matcher.js';
import { parseQuery, Query, querySpecOf, queryToWire } from '../src/query.js';

const entries = [
  { key: 'a', value: { city: 'Oslo', age: 31 } },
  { key: 'b', value: { city: 'Rome', age: 25 } },
  { key: 'c', value: { city: 'Oslo', age: 40 } },
];

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidQueryError);
    return (e as InvalidQueryError).code;
  }
  throw new Error('expected an InvalidQueryError');
}

describe('a query with an aggregation', () => {
  it('answers { rows: [], total, aggregate } from the builder and from the wire form alike', () => {
    const built = Query.new().filter(Filter.gt('age', 26)).aggregate(Aggregation.groupBy('city', Agg.count()));
    const wire = { filter: { age: { $gt: 26 } }, aggregate: { op: 'groupBy', path: 'city', aggregation: { op: 'count' } } };
    expect(queryToWire(built.spec)).toEqual(wire);
    for (const spec of [built.spec, parseQuery(wire), parseQuery(JSON.parse(JSON.stringify(built)))]) {
      const r = executeQuery(entries, spec);
      expect(r.rows).toEqual([]);
      expect(r.total).toBe(2);
      expect(r.aggregate).toEqual([{ group: 'Oslo', value: 2 }]);
      expect(Object.isFrozen(r.aggregate)).toBe(true);
    }
    expect(executeQuery(entries, Query.new().aggregate(Agg.avg('age')).spec).aggregate).toBe(32);
    expect(executeQuery([], Query.new().aggregate(Agg.max('age')).spec)).toMatchObject({ total: 0, aggregate: null });
  });

  it('may only filter, and refuses a bad aggregation with INVALID_QUERY', () => {
    expect(code(() => Query.new().aggregate(Agg.count()).limit(1))).toBe('INVALID_QUERY');
    expect(code(() => Query.new().sort('age').aggregate(Agg.count()))).toBe('INVALID_QUERY');
    expect(code(() => parseQuery({ aggregate: { op: 'count' }, select: ['a'] }))).toBe('INVALID_QUERY');
    expect(code(() => parseQuery({ aggregate: { op: 'median' } }))).toBe('INVALID_QUERY');
    expect(code(() => parseQuery({ aggregate: { op: 'count', pth: 'a' } }))).toBe('INVALID_QUERY');
    expect(code(() => parseQuery({ aggregate: 'count' }))).toBe('INVALID_QUERY');
    expect(code(() => Query.new().aggregate({ op: 'sum', path: '' } as never))).toBe('INVALID_QUERY');
  });
});

describe('filter and query inputs', () => {
  it('a Filter, a Query with only a filter, and the wire form are one filter', () => {
    const f = Filter.gte('age', 31);
    for (const input of [f, Query.new().filter(f), { age: { $gte: 31 } }]) {
      const m = matcherOf(input)!;
      expect(entries.filter((e) => m(e.value)).map((e) => e.key)).toEqual(['a', 'c']);
    }
    expect(matcherOf(undefined)).toBeUndefined();
    expect(filterOf(Query.new())).toBeUndefined();
  });

  it('a Query with more than a filter is refused where only a filter is taken', () => {
    expect(code(() => matcherOf(Query.new().filter(Filter.eq('a', 1)).limit(3)))).toBe('INVALID_QUERY');
    expect(code(() => matcherOf(Query.new().aggregate(Agg.count())))).toBe('INVALID_QUERY');
    expect(code(() => filterOf(Query.new().sort('a')))).toBe('INVALID_QUERY');
  });

  it('a query may be given as a Filter, or as the wire form holding a Filter', () => {
    const f = Filter.eq('city', 'Oslo');
    for (const q of [f, { filter: f }, Query.new().filter(f), { filter: { city: 'Oslo' } }]) {
      expect(executeQuery(entries, querySpecOf(q)).rows.map((r) => r.key)).toEqual(['a', 'c']);
    }
  });

  it("a Query's JSON holds its filter's and aggregation's wire forms, which parse back to it", () => {
    const q = Query.new().filter(Filter.size('t', 2)).filter({ a: { $nin: [1] } }).aggregate(Agg.count());
    const json = JSON.parse(JSON.stringify(q)) as unknown;
    expect(json).toEqual({ filter: { $and: [{ t: { $size: 2 } }, { a: { $nin: [1] } }] }, aggregate: { op: 'count' } });
    expect(parseQuery(json)).toEqual(q.spec);
  });
});
