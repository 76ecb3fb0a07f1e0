// $nin, $all, $size, $elemMatch, $regex/$options and $not on a field: builder and wire
// give the same filter, with MongoDB's semantics for missing fields.
import type { JsonValue } from '@koru/engine';
import { describe, expect, it } from 'vitest';
import { compileFilter } from '../src/compile.js';
import { InvalidQueryError } from '../src/errors.js';
import { Filter } from '../src/filter.js';
import { parseFilter, toWire } from '../src/wire.js';

const docs: Record<string, JsonValue> = {
  ann: { name: 'Ann', age: 31, tags: ['a', 'x'], scores: [70, 82], items: [{ sku: 'A1', qty: 1 }, { sku: 'B2', qty: 5 }] },
  bob: { name: 'bob', age: 25, tags: [], scores: [90], items: [{ sku: 'A1', qty: 3 }] },
  cat: { name: 'Cat\nLee', age: 40, tags: ['x', { k: 1 }, 'a', 'y'], scores: 83, items: 'none' },
  dan: { nick: 'd' },
};

function matching(f: unknown): string[] {
  const p = compileFilter(parseFilter(f));
  return Object.keys(docs).filter((k) => p(docs[k]!));
}

/** The wire form and the builder select the same documents, and the builder's wire form parses back to it. */
function same(wire: JsonValue, built: Filter, expected: string[]): void {
  expect(matching(wire)).toEqual(expected);
  expect(matching(built)).toEqual(expected);
  expect(parseFilter(JSON.parse(JSON.stringify(toWire(built))))).toEqual(built);
  expect(JSON.parse(JSON.stringify(built))).toEqual(toWire(built));
}

function refused(wire: unknown, path: string): void {
  let error: unknown;
  try {
    parseFilter(wire);
  } catch (e) {
    error = e;
  }
  expect(error, JSON.stringify(wire)).toBeInstanceOf(InvalidQueryError);
  expect((error as InvalidQueryError).code).toBe('INVALID_QUERY');
  expect((error as InvalidQueryError).details.path).toBe(path);
}

describe('new operators', () => {
  it('$nin: missing or deep-equal to none (a missing field matches, as $ne)', () => {
    same({ age: { $nin: [31, 40] } }, Filter.nin('age', [31, 40]), ['bob', 'dan']);
    same({ tags: { $nin: [[]] } }, Filter.nin('tags', [[]]), ['ann', 'cat', 'dan']);
    same({ age: { $nin: [] } }, Filter.nin('age', []), ['ann', 'bob', 'cat', 'dan']);
  });

  it('$all: an array holding each value (deep equality); [] and non-arrays match nothing', () => {
    same({ tags: { $all: ['a', 'x'] } }, Filter.all('tags', ['a', 'x']), ['ann', 'cat']);
    same({ tags: { $all: [{ k: 1 }] } }, Filter.all('tags', [{ k: 1 }]), ['cat']);
    same({ tags: { $all: [] } }, Filter.all('tags', []), []);
    same({ name: { $all: ['Ann'] } }, Filter.all('name', ['Ann']), []);
  });

  it('$size: an array of exactly n elements', () => {
    same({ tags: { $size: 0 } }, Filter.size('tags', 0), ['bob']);
    same({ tags: { $size: 2 } }, Filter.size('tags', 2), ['ann']);
    same({ scores: { $size: 1 } }, Filter.size('scores', 1), ['bob']);
  });

  it('$elemMatch: one element meets every condition (a filter over objects, operators over scalars)', () => {
    same({ items: { $elemMatch: { sku: 'A1', qty: { $gte: 2 } } } }, Filter.elemMatch('items', { sku: 'A1', qty: { $gte: 2 } }), ['bob']);
    same(
      { items: { $elemMatch: { sku: 'A1', qty: { $gte: 2 } } } },
      Filter.elemMatch('items', Filter.and(Filter.eq('sku', 'A1'), Filter.gte('qty', 2))),
      ['bob'],
    );
    // Not the same as two conditions on the array as a whole: ann has A1 and qty 5, in different elements.
    same({ scores: { $elemMatch: { $gte: 80, $lt: 85 } } }, Filter.elemMatch('scores', { $gte: 80, $lt: 85 }), ['ann']);
    same({ scores: { $elemMatch: { $not: { $lt: 85 } } } }, Filter.elemMatch('scores', { $not: { $lt: 85 } }), ['bob']);
    same({ items: { $elemMatch: { $not: { sku: 'A1' } } } }, Filter.elemMatch('items', Filter.not(Filter.eq('sku', 'A1'))), ['ann']);
    same({ items: { $elemMatch: {} } }, Filter.elemMatch('items', {}), ['ann', 'bob']);
    same({ tags: { $elemMatch: { $or: [{ k: 1 }] } } }, Filter.elemMatch('tags', { $or: [{ k: 1 }] }), ['cat']);
  });

  it('$regex with $options (and the older $matches): strings only', () => {
    same({ name: { $regex: '^b' } }, Filter.regex('name', '^b'), ['bob']);
    same({ name: { $regex: '^c', $options: 'i' } }, Filter.regex('name', '^c', 'i'), ['cat']);
    same({ name: { $regex: '^Lee', $options: 'm' } }, Filter.regex('name', '^Lee', 'm'), ['cat']);
    same({ name: { $regex: 'Cat.Lee', $options: 's' } }, Filter.regex('name', 'Cat.Lee', 's'), ['cat']);
    same({ name: { $regex: '\\p{Lu}nn', $options: 'u' } }, Filter.matches('name', '\\p{Lu}nn', 'u'), ['ann']);
    same({ tags: { $regex: 'a' } }, Filter.regex('tags', 'a'), []);
    expect(parseFilter({ name: { $matches: '^b' } })).toEqual(parseFilter({ name: { $regex: '^b' } }));
  });

  it('$not on a field: the operators do not all hold, or the field is missing (MongoDB)', () => {
    expect(matching({ age: { $not: { $gt: 30 } } })).toEqual(['bob', 'dan']);
    expect(matching({ age: { $not: { $gt: 26, $lt: 35 } } })).toEqual(['bob', 'cat', 'dan']);
    expect(matching({ name: { $not: { $regex: '^[A-Z]' } } })).toEqual(['bob', 'dan']);
    expect(parseFilter({ age: { $not: { $gt: 30 } } })).toEqual(Filter.not(Filter.gt('age', 30)));
  });

  it('refuses operators with operands of the wrong type, and unknown ones, naming where', () => {
    refused({ a: { $in: 5 } }, 'a.$in');
    refused({ a: { $nin: 'x' } }, 'a.$nin');
    refused({ a: { $all: {} } }, 'a.$all');
    refused({ a: { $all: [{ $elemMatch: { b: 1 } }] } }, 'a.$all.0');
    refused({ a: { $size: 'x' } }, 'a.$size');
    refused({ a: { $size: -1 } }, 'a.$size');
    refused({ a: { $size: 1.5 } }, 'a.$size');
    refused({ a: { $regex: 3 } }, 'a.$regex');
    refused({ a: { $regex: 'x', $options: 'x' } }, 'a.$regex');
    refused({ a: { $regex: 'x', $options: 'g' } }, 'a.$regex');
    refused({ a: { $regex: 'x', $matches: 'y' } }, 'a');
    refused({ a: { $options: 'i' } }, 'a.$options');
    refused({ a: { $elemMatch: 5 } }, 'a.$elemMatch');
    refused({ a: { $elemMatch: [] } }, 'a.$elemMatch');
    refused({ a: { $elemMatch: { $gte: 1, b: 2 } } }, 'a.$elemMatch.$gte');
    refused({ a: { $elemMatch: { $bogus: 1 } } }, 'a.$elemMatch.$bogus');
    refused({ a: { $not: 5 } }, 'a.$not');
    refused({ a: { $not: {} } }, 'a.$not');
    refused({ a: { $not: { b: 1 } } }, 'a.$not');
    refused({ a: { $where: 'x' } }, 'a.$where');
    refused({ $nor: [] }, '$nor');
    expect(() => Filter.size('a', 'x' as never)).toThrow(InvalidQueryError);
    expect(() => Filter.all('a', 5 as never)).toThrow(InvalidQueryError);
    expect(() => Filter.nin('a', 5 as never)).toThrow(InvalidQueryError);
    expect(() => Filter.regex('a', 'x', 'g')).toThrow(InvalidQueryError);
    expect(() => Filter.elemMatch('a', 5 as never)).toThrow(InvalidQueryError);
  });
});

describe('one filter language', () => {
  it('a Filter is accepted wherever the wire form is, also inside it; its JSON is its wire form', () => {
    expect(JSON.stringify(Filter.gt('age', 30))).toBe('{"age":{"$gt":30}}');
    expect(matching(JSON.parse(JSON.stringify({ $or: [Filter.gt('age', 30)] })))).toEqual(['ann', 'cat']);
    expect(matching(Filter.gt('age', 30))).toEqual(['ann', 'cat']);
    expect(matching({ $or: [Filter.eq('age', 25), { nick: 'd' }] })).toEqual(['bob', 'dan']);
    expect(matching({ $not: Filter.exists('age') })).toEqual(['dan']);
    expect(matching(Filter.and({ age: { $gt: 30 } }, Filter.size('tags', 2)))).toEqual(['ann']);
  });

  it('refuses a Filter-shaped object that did not come from Filter (it would match nothing)', () => {
    refused({ op: 'gt', path: 'age', value: 18 }, '');
    refused({ ...Filter.gt('age', 18) }, '');
    refused({ $and: [{ op: 'and', filters: [] }] }, '$and.0');
    // A field of that name is still reachable, spelled with an operator.
    expect(matching({ op: { $eq: 'gt' }, path: 'age' })).toEqual([]);
    expect(() => parseFilter({ op: 'custom', path: 'x' })).not.toThrow();
  });

  it('refuses a Filter as the value of a field, and non-objects as filters', () => {
    refused({ age: Filter.gt('age', 1) }, 'age');
    for (const bad of [null, 5, 'age > 3', [], true]) refused(bad, '');
  });
});

describe('operands must be JSON', () => {
  it('a Date, undefined, NaN, a Map or a Filter as an operand is refused (it would match nothing)', () => {
    const when = new Date(0);
    refused({ at: { $gt: when } }, 'at.$gt');
    refused({ at: when }, 'at');
    refused({ n: { $eq: undefined } }, 'n.$eq');
    refused({ n: { $in: [1, Number.NaN] } }, 'n.$in');
    refused({ n: { $all: [new Map()] } }, 'n.$all');
    refused({ n: { $contains: { d: when } } }, 'n.$contains');
    refused({ n: { $eq: Filter.eq('a', 1) } }, 'n.$eq');
    expect(() => Filter.gt('at', when as never)).toThrow(/ISO-8601/);
    expect(() => Filter.eq('n', undefined as never)).toThrow(InvalidQueryError);
    expect(() => Filter.in('n', [Infinity])).toThrow(InvalidQueryError);
    expect(matching({ name: { $eq: { op: 'gt' } } })).toEqual([]); // a plain object operand is a literal
  });
});
