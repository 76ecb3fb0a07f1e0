import { describe, expect, it } from 'vitest';
import { InvalidQueryError } from '../src/errors.js';
import { Filter } from '../src/filter.js';
import { parseQuery, Query, queryToWire } from '../src/query.js';

describe('Query builder', () => {
  it('is immutable and produces a plain spec', () => {
    const base = Query.new();
    const q = base.filter(Filter.gt('age', 30)).sort('name').sort('age', 'desc').select(['name', 'age']).offset(10).limit(5);
    expect(base.spec).toEqual({});
    expect(q.spec).toEqual({
      filter: { op: 'gt', path: 'age', value: 30 },
      sort: [
        { path: 'name', direction: 'asc' },
        { path: 'age', direction: 'desc' },
      ],
      select: ['name', 'age'],
      offset: 10,
      limit: 5,
    });
    expect(Object.isFrozen(q.spec)).toBe(true);
  });

  it('ANDs repeated filters and replaces select/offset/limit', () => {
    const q = Query.new().filter(Filter.eq('a', 1)).filter(Filter.eq('b', 2)).limit(1).limit(2).select(['a']).select(['b']);
    expect(q.spec).toEqual({ filter: Filter.and(Filter.eq('a', 1), Filter.eq('b', 2)), limit: 2, select: ['b'] });
  });

  it('validates arguments', () => {
    expect(() => Query.new().limit(-1)).toThrow(InvalidQueryError);
    expect(() => Query.new().offset(1.5)).toThrow(InvalidQueryError);
    expect(() => Query.new().sort('a', 'up' as 'asc')).toThrow(InvalidQueryError);
    expect(() => Query.new().sort('')).toThrow(InvalidQueryError);
    expect(() => Query.new().select(['ok', 'a..b'])).toThrow(expect.objectContaining({ details: expect.objectContaining({ path: 'select.1' }) }));
  });
});

describe('query wire form', () => {
  it('round-trips through JSON', () => {
    const q = Query.new().filter(Filter.or(Filter.eq('s', 'x'), Filter.in('n', [1]))).sort('name').sort('age', 'desc').select(['a.b']).offset(1).limit(2);
    const wire = JSON.parse(JSON.stringify(q));
    expect(wire).toEqual({
      filter: { $or: [{ s: 'x' }, { n: { $in: [1] } }] },
      sort: [
        ['name', 'asc'],
        ['age', 'desc'],
      ],
      select: ['a.b'],
      offset: 1,
      limit: 2,
    });
    expect(parseQuery(wire)).toEqual(q.spec);
    expect(queryToWire(parseQuery(wire))).toEqual(wire);
    expect(Query.from(q.spec).spec).toEqual(q.spec);
    expect(parseQuery({})).toEqual({});
  });

  it('rejects malformed queries with details.path', () => {
    const cases: Array<[unknown, string]> = [
      [[], ''],
      [{ where: {} }, 'where'],
      [{ filter: { age: { $gt: 1, $nope: 1 } } }, 'filter.age.$nope'],
      [{ filter: 3 }, 'filter'],
      [{ sort: 'name' }, 'sort'],
      [{ sort: [['a', 'asc'], ['b']] }, 'sort.1'],
      [{ sort: [['a', 'up']] }, 'sort.0.1'],
      [{ sort: [[1, 'asc']] }, 'sort.0.0'],
      [{ select: 'a' }, 'select'],
      [{ select: ['a', ''] }, 'select.1'],
      [{ offset: -1 }, 'offset'],
      [{ limit: '5' }, 'limit'],
    ];
    for (const [json, path] of cases) {
      expect(() => parseQuery(json), JSON.stringify(json)).toThrow(
        expect.objectContaining({ details: expect.objectContaining({ reason: 'INVALID_QUERY', path }) }),
      );
    }
  });
});
