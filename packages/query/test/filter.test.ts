import type { JsonValue } from '@koru/engine';
import { describe, expect, it } from 'vitest';
import { compileFilter } from '../src/compile.js';
import { Filter } from '../src/filter.js';
import { InvalidQueryError } from '../src/errors.js';

const docs: Record<string, JsonValue> = {
  ann: { name: 'Ann', age: 31, tags: ['a', 'x'], address: { city: 'Oslo' }, items: [{ sku: 'A1' }, { sku: 'B2' }], nick: null },
  bob: { name: 'Bob', age: 25, tags: [], address: { city: 'Rome' }, items: [], email: 'bob@example.com' },
  cat: { name: 'Cat', age: '40', tags: [{ k: 1 }], items: [{ sku: 'B2' }] },
  dan: { name: 'dan' },
};

function matching(f: Filter): string[] {
  const p = compileFilter(f);
  return Object.keys(docs).filter((k) => p(docs[k]!));
}

describe('comparison operators', () => {
  it('eq / ne use deep JSON equality; ne matches missing fields', () => {
    expect(matching(Filter.eq('age', 31))).toEqual(['ann']);
    expect(matching(Filter.eq('address', { city: 'Oslo' }))).toEqual(['ann']);
    expect(matching(Filter.eq('tags', []))).toEqual(['bob']);
    expect(matching(Filter.eq('nick', null))).toEqual(['ann']);
    expect(matching(Filter.ne('age', 31))).toEqual(['bob', 'cat', 'dan']);
    expect(matching(Filter.ne('address', { city: 'Oslo' }))).toEqual(['bob', 'cat', 'dan']);
  });

  it('gt / gte / lt / lte use the total order and never match a missing field', () => {
    expect(matching(Filter.gt('age', 25))).toEqual(['ann', 'cat']); // '40' is a string: strings > numbers
    expect(matching(Filter.gte('age', 25))).toEqual(['ann', 'bob', 'cat']);
    expect(matching(Filter.lt('age', 31))).toEqual(['bob']);
    expect(matching(Filter.lte('age', 31))).toEqual(['ann', 'bob']);
    expect(matching(Filter.lt('age', null))).toEqual([]);
    expect(matching(Filter.gt('name', 'B'))).toEqual(['bob', 'cat', 'dan']);
  });
});

describe('contains, exists, matches, in', () => {
  it('contains: substring of a string or deep-equal element of an array', () => {
    expect(matching(Filter.contains('name', 'n'))).toEqual(['ann', 'dan']);
    expect(matching(Filter.contains('name', 'an'))).toEqual(['dan']); // case-sensitive
    expect(matching(Filter.contains('tags', 'x'))).toEqual(['ann']);
    expect(matching(Filter.contains('tags', { k: 1 }))).toEqual(['cat']);
    expect(matching(Filter.contains('items', { sku: 'B2' }))).toEqual(['ann', 'cat']);
    expect(matching(Filter.contains('age', 3))).toEqual([]);
    expect(matching(Filter.contains('name', 1))).toEqual([]);
  });

  it('exists: present (null counts) or absent', () => {
    expect(matching(Filter.exists('email'))).toEqual(['bob']);
    expect(matching(Filter.exists('nick'))).toEqual(['ann']);
    expect(matching(Filter.exists('address', false))).toEqual(['cat', 'dan']);
  });

  it('matches: regex on strings only, with flags', () => {
    expect(matching(Filter.matches('name', '^[AB]'))).toEqual(['ann', 'bob']);
    expect(matching(Filter.matches('name', '^d', 'i'))).toEqual(['dan']);
    expect(matching(Filter.matches('age', '4'))).toEqual(['cat']);
  });

  it('in: deep equality against each value', () => {
    expect(matching(Filter.in('age', [25, '40']))).toEqual(['bob', 'cat']);
    expect(matching(Filter.in('address', [{ city: 'Rome' }]))).toEqual(['bob']);
    expect(matching(Filter.in('age', []))).toEqual([]);
  });
});

describe('logical operators', () => {
  it('and / or / not, and the empty cases', () => {
    expect(matching(Filter.and(Filter.exists('age'), Filter.lt('age', 30)))).toEqual(['bob']);
    expect(matching(Filter.or(Filter.eq('name', 'Ann'), Filter.eq('name', 'dan')))).toEqual(['ann', 'dan']);
    expect(matching(Filter.not(Filter.exists('age')))).toEqual(['dan']);
    expect(matching(Filter.and())).toEqual(Object.keys(docs));
    expect(matching(Filter.or())).toEqual([]);
    expect(matching(Filter.and(Filter.eq('name', 'Ann')))).toEqual(['ann']);
  });
});

describe('dotted paths', () => {
  it('reach into nested objects and array indexes', () => {
    expect(matching(Filter.eq('address.city', 'Rome'))).toEqual(['bob']);
    expect(matching(Filter.eq('items.0.sku', 'B2'))).toEqual(['cat']);
    expect(matching(Filter.eq('items.1.sku', 'B2'))).toEqual(['ann']);
    expect(matching(Filter.exists('items.2'))).toEqual([]);
    expect(matching(Filter.exists('tags.length'))).toEqual([]); // arrays: indexes only
    expect(matching(Filter.exists('items.01'))).toEqual([]); // canonical indexes only
    expect(matching(Filter.exists('name.0'))).toEqual([]); // strings are leaves
  });

  it('read own properties only: __proto__, constructor and toString never reach the prototype', () => {
    const evil = JSON.parse('{"__proto__": {"polluted": 1}, "constructor": {"name": "x"}}') as JsonValue;
    const plain: JsonValue = { a: 1 };
    expect(compileFilter(Filter.eq('__proto__.polluted', 1))(evil)).toBe(true);
    expect(compileFilter(Filter.exists('__proto__'))(plain)).toBe(false);
    expect(compileFilter(Filter.exists('constructor'))(plain)).toBe(false);
    expect(compileFilter(Filter.exists('toString'))(plain)).toBe(false);
    expect(compileFilter(Filter.eq('constructor.name', 'x'))(evil)).toBe(true);
    expect(compileFilter(Filter.exists('constructor.name'))(plain)).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('rejects malformed paths with INVALID_QUERY', () => {
    for (const p of ['', 'a..b', '.a', 'a.', '$where']) {
      expect(() => Filter.eq(p, 1)).toThrow(InvalidQueryError);
    }
    try {
      Filter.gt('a..b', 1);
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidQueryError);
      expect((e as InvalidQueryError).code).toBe('INVALID_QUERY');
      expect((e as InvalidQueryError).details).toMatchObject({ reason: 'INVALID_QUERY', path: 'a..b' });
    }
  });
});

describe('regex guard', () => {
  it('rejects long, invalid and stateful patterns naming the path', () => {
    const cases: Array<[string, string | undefined]> = [['a'.repeat(1001), undefined], ['(', undefined], ['a', 'g'], ['a', 'ii']];
    for (const [pattern, flags] of cases) {
      let err: unknown;
      try {
        Filter.matches('profile.name', pattern, flags);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidQueryError);
      expect((err as InvalidQueryError).details.path).toBe('profile.name');
    }
    expect(() => Filter.matches('n', 'a'.repeat(1000))).not.toThrow();
  });

  it('compileFilter validates hand-written filters too', () => {
    expect(() => compileFilter({ op: 'matches', path: 'n', pattern: '[' })).toThrow(InvalidQueryError);
    expect(() => compileFilter({ op: 'nope', path: 'n' } as unknown as Filter)).toThrow(/unknown filter op/);
    expect(() => compileFilter({ op: 'and', filters: [{ op: 'eq', path: '', value: 1 }] })).toThrow(
      expect.objectContaining({ details: expect.objectContaining({ path: 'filters.0.path' }) }),
    );
  });
});

describe('constructors', () => {
  it('return frozen plain data', () => {
    const f = Filter.and(Filter.in('x', [1]), Filter.not(Filter.matches('n', 'a', 'i')));
    expect(Object.isFrozen(f)).toBe(true);
    expect(f).toEqual({
      op: 'and',
      filters: [
        { op: 'in', path: 'x', values: [1] },
        { op: 'not', filter: { op: 'matches', path: 'n', pattern: 'a', flags: 'i' } },
      ],
    });
  });
});
