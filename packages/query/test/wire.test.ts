import { describe, expect, it } from 'vitest';
import { Filter } from '../src/filter.js';
import { InvalidQueryError } from '../src/errors.js';
import { parseFilter, toWire } from '../src/wire.js';

function errorPath(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidQueryError);
    expect((e as InvalidQueryError).details.reason).toBe('INVALID_QUERY');
    return (e as InvalidQueryError).details.path;
  }
  throw new Error('expected an InvalidQueryError');
}

describe('parseFilter', () => {
  it('reads every operator', () => {
    expect(parseFilter({ status: 'active' })).toEqual(Filter.eq('status', 'active'));
    expect(parseFilter({ age: { $gt: 30 } })).toEqual(Filter.gt('age', 30));
    expect(parseFilter({ age: { $gte: 1, $lt: 5, $lte: 4, $ne: 3, $eq: 2 } })).toEqual(
      Filter.and(Filter.gte('age', 1), Filter.lt('age', 5), Filter.lte('age', 4), Filter.ne('age', 3), Filter.eq('age', 2)),
    );
    expect(parseFilter({ tags: { $contains: 'x' } })).toEqual(Filter.contains('tags', 'x'));
    expect(parseFilter({ email: { $exists: false } })).toEqual(Filter.exists('email', false));
    expect(parseFilter({ name: { $matches: '^A' } })).toEqual(Filter.matches('name', '^A'));
    expect(parseFilter({ name: { $options: 'i', $matches: '^A' } })).toEqual(Filter.matches('name', '^A', 'i'));
    expect(parseFilter({ x: { $in: [1, 2] } })).toEqual(Filter.in('x', [1, 2]));
    expect(parseFilter({ $or: [{ a: 1 }, { b: 2 }] })).toEqual(Filter.or(Filter.eq('a', 1), Filter.eq('b', 2)));
    expect(parseFilter({ $and: [{ a: 1 }] })).toEqual(Filter.and(Filter.eq('a', 1)));
    expect(parseFilter({ $not: { a: 1 } })).toEqual(Filter.not(Filter.eq('a', 1)));
    expect(parseFilter({ a: 1, 'b.c': 2 })).toEqual(Filter.and(Filter.eq('a', 1), Filter.eq('b.c', 2)));
    expect(parseFilter({})).toEqual(Filter.and());
  });

  it('treats objects without $ keys as literals and $eq operands literally', () => {
    expect(parseFilter({ address: { city: 'Oslo' } })).toEqual(Filter.eq('address', { city: 'Oslo' }));
    expect(parseFilter({ a: {} })).toEqual(Filter.eq('a', {}));
    expect(parseFilter({ a: { $eq: { $gt: 1 } } })).toEqual(Filter.eq('a', { $gt: 1 }));
    expect(parseFilter({ a: [1, { $gt: 1 }] })).toEqual(Filter.eq('a', [1, { $gt: 1 }]));
  });

  it('keeps __proto__ fields as own data', () => {
    const f = parseFilter(JSON.parse('{"__proto__": {"$eq": 1}, "a.__proto__": 2}'));
    expect(f).toEqual(Filter.and(Filter.eq('__proto__', 1), Filter.eq('a.__proto__', 2)));
    expect(JSON.stringify(toWire(f))).toBe('{"$and":[{"__proto__":1},{"a.__proto__":2}]}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('rejects bad input with INVALID_QUERY and the location in details.path', () => {
    expect(errorPath(() => parseFilter(null))).toBe('');
    expect(errorPath(() => parseFilter([]))).toBe('');
    expect(errorPath(() => parseFilter({ $where: 'x' }))).toBe('$where');
    expect(errorPath(() => parseFilter({ age: { $gt: 1, $foo: 2 } }))).toBe('age.$foo');
    expect(errorPath(() => parseFilter({ age: { $gt: 1, plain: 2 } }))).toBe('age');
    expect(errorPath(() => parseFilter({ e: { $exists: 'yes' } }))).toBe('e.$exists');
    expect(errorPath(() => parseFilter({ x: { $in: 1 } }))).toBe('x.$in');
    expect(errorPath(() => parseFilter({ $or: { a: 1 } }))).toBe('$or');
    expect(errorPath(() => parseFilter({ $or: [{ a: 1 }, 3] }))).toBe('$or.1');
    expect(errorPath(() => parseFilter({ $and: [{ $not: { b: { $bad: 1 } } }] }))).toBe('$and.0.$not.b.$bad');
    expect(errorPath(() => parseFilter({ 'a..b': 1 }))).toBe('a..b');
    expect(errorPath(() => parseFilter({ n: { $matches: 5 } }))).toBe('n.$matches');
    expect(errorPath(() => parseFilter({ n: { $matches: '(' } }))).toBe('n.$matches');
    expect(errorPath(() => parseFilter({ n: { $matches: 'x'.repeat(1001) } }))).toBe('n.$matches');
    expect(errorPath(() => parseFilter({ n: { $matches: 'x', $options: 'g' } }))).toBe('n.$matches');
    expect(errorPath(() => parseFilter({ n: { $options: 'i' } }))).toBe('n.$options');
  });
});

describe('toWire', () => {
  it('writes the documented form and parses back to the same filter', () => {
    const cases: Filter[] = [
      Filter.eq('a', 1),
      Filter.eq('a', { b: 1 }),
      Filter.eq('a', [1]),
      Filter.ne('a', null),
      Filter.gt('a', 'x'),
      Filter.exists('a', false),
      Filter.matches('a', '^x$', 'im'),
      Filter.in('a', [{ $x: 1 }]),
      Filter.contains('a', { $gt: 1 }),
      Filter.not(Filter.or(Filter.and(), Filter.lt('a.b.0', 3))),
    ];
    for (const f of cases) expect(parseFilter(JSON.parse(JSON.stringify(toWire(f))))).toEqual(f);
    expect(toWire(Filter.eq('a', { b: 1 }))).toEqual({ a: { $eq: { b: 1 } } });
    expect(toWire(Filter.and(Filter.gt('age', 30), Filter.eq('s', 'x')))).toEqual({ $and: [{ age: { $gt: 30 } }, { s: 'x' }] });
  });
});
