// The query editor's fields to the wire form: each field read exactly, or refused by name.
import { describe, expect, it } from 'vitest';
import { buildQuery, EMPTY_FIELDS, parseFilterText } from '../src/app/query-form.js';

describe('buildQuery', () => {
  it('builds filter, sort, projection and page', () => {
    const b = buildQuery({ ...EMPTY_FIELDS, filter: 'age > 30 and city = "Oslo"', sort: 'name, age:desc', select: 'name, address.city', limit: '10', offset: '20' });
    expect(b).toEqual({
      ok: true,
      query: { filter: { $and: [{ age: { $gt: 30 } }, { city: 'Oslo' }] }, sort: [['name', 'asc'], ['age', 'desc']], select: ['name', 'address.city'], limit: 10, offset: 20 },
    });
    expect(buildQuery({ ...EMPTY_FIELDS, limit: '' })).toEqual({ ok: true, query: {} });
  });

  it('builds an aggregation, grouped or not, with the filter only', () => {
    expect(buildQuery({ ...EMPTY_FIELDS, op: 'count', sort: 'ignored' })).toEqual({ ok: true, query: {}, aggregate: { op: 'count' } });
    expect(buildQuery({ ...EMPTY_FIELDS, filter: 'age exists', op: 'avg', field: 'age', groupBy: 'city' })).toEqual({
      ok: true,
      query: { filter: { age: { $exists: true } } },
      aggregate: { op: 'groupBy', path: 'city', aggregation: { op: 'avg', path: 'age' } },
    });
  });

  it('refuses what it cannot read, naming the field, and the column of a filter mistake', () => {
    const f = buildQuery({ ...EMPTY_FIELDS, filter: 'age >' });
    expect(f.ok).toBe(false);
    expect(!f.ok && f.problem.field).toBe('filter');
    expect(!f.ok && f.problem.column).toBe(6);
    expect(buildQuery({ ...EMPTY_FIELDS, limit: '-1' })).toMatchObject({ ok: false, problem: { field: 'limit' } });
    expect(buildQuery({ ...EMPTY_FIELDS, limit: '1.5' })).toMatchObject({ ok: false, problem: { field: 'limit' } });
    expect(buildQuery({ ...EMPTY_FIELDS, offset: '9007199254740993' })).toMatchObject({ ok: false, problem: { field: 'offset' } });
    expect(buildQuery({ ...EMPTY_FIELDS, sort: 'name:up' })).toMatchObject({ ok: false, problem: { field: 'sort' } });
    expect(buildQuery({ ...EMPTY_FIELDS, sort: 'a:b:desc' })).toMatchObject({ ok: false, problem: { field: 'sort' } });
    expect(buildQuery({ ...EMPTY_FIELDS, op: 'sum' })).toMatchObject({ ok: false, problem: { field: 'field' } });
    expect(buildQuery({ ...EMPTY_FIELDS, groupBy: 'city' })).toMatchObject({ ok: false, problem: { field: 'groupBy' } });
  });
});

describe('parseFilterText', () => {
  it('reads an expression to its wire form, blank as no filter, and a mistake with its column', () => {
    expect(parseFilterText('n > 1 and kind = "tea"')).toEqual({ ok: true, filter: { $and: [{ n: { $gt: 1 } }, { kind: 'tea' }] } });
    expect(parseFilterText('  ')).toEqual({ ok: true });
    expect(parseFilterText('n >')).toMatchObject({ ok: false, problem: { field: 'filter', column: 4 } });
  });
});
