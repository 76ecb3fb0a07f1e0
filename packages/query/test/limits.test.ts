// The bounds on one filter (./src/limits.ts), each at its edge: the maximum passes, one more is INVALID_QUERY.
import type { JsonValue } from '@koru/engine';
import { describe, expect, it } from 'vitest';
import { compileFilter } from '../src/compile.js';
import { InvalidQueryError } from '../src/errors.js';
import { Filter } from '../src/filter.js';
import { MAX_FILTER_DEPTH, MAX_FILTER_NODES, MAX_FILTER_PATTERNS, MAX_FILTER_VALUES, MAX_PATTERN_LENGTH } from '../src/index.js';
import { parseQuery } from '../src/query.js';
import { refusal } from './refusal.js';
import { parseFilter, type WireFilter } from '../src/wire.js';

function expectLimit(f: () => unknown, limit: number, message: RegExp): InvalidQueryError {
  const e = refusal(f);
  expect(e.code).toBe('INVALID_QUERY');
  expect(e.details.limit).toBe(limit);
  expect(e.message).toMatch(message);
  return e;
}

/** `{ $not: { $not: ... { a: 1 } } }` with `n` nots: a tree `n + 1` levels high. */
function nots(n: number): WireFilter {
  let f: WireFilter = { a: 1 };
  for (let i = 0; i < n; i++) f = { $not: f };
  return f;
}

/** `n` nested `$and`s, `$or`s or `$elemMatch`es around `{ a: 1 }`: `n + 1` levels. */
function nested(n: number, how: 'and' | 'or' | 'elem' | 'fieldNot'): WireFilter {
  let f: WireFilter = how === 'fieldNot' ? { $eq: 1 } : { a: 1 };
  for (let i = 0; i < n; i++) {
    if (how === 'and') f = { $and: [f] };
    else if (how === 'or') f = { $or: [f] };
    else if (how === 'elem') f = { a: { $elemMatch: f } };
    else f = { $not: f };
  }
  return how === 'fieldNot' ? { a: f } : f;
}

describe('the limits are exported and documented values', () => {
  it('has them', () => {
    expect([MAX_PATTERN_LENGTH, MAX_FILTER_DEPTH, MAX_FILTER_NODES, MAX_FILTER_VALUES, MAX_FILTER_PATTERNS]).toEqual([1000, 64, 1000, 10_000, 16]);
  });
});

describe('MAX_FILTER_DEPTH', () => {
  const depth = /at most 64 levels deep/;
  it('the deepest filter passes, one level more is refused (wire, at parse)', () => {
    const ok = parseFilter(nots(MAX_FILTER_DEPTH - 1));
    expect(compileFilter(ok)({ a: 2 })).toBe(MAX_FILTER_DEPTH % 2 === 0);
    expectLimit(() => parseFilter(nots(MAX_FILTER_DEPTH)), MAX_FILTER_DEPTH, depth);
    for (const how of ['and', 'or', 'elem', 'fieldNot'] as const) {
      expect(() => compileFilter(parseFilter(nested(MAX_FILTER_DEPTH - 1, how)))).not.toThrow();
      expectLimit(() => parseFilter(nested(MAX_FILTER_DEPTH, how)), MAX_FILTER_DEPTH, depth);
    }
  });

  it('a filter nested 10,000 deep is INVALID_QUERY, not a stack overflow', () => {
    for (const how of ['and', 'or', 'elem', 'fieldNot'] as const) {
      expectLimit(() => parseFilter(nested(10_000, how)), MAX_FILTER_DEPTH, depth);
    }
    const e = expectLimit(() => parseFilter(nots(10_000)), MAX_FILTER_DEPTH, depth);
    expect(e.path).toBe(Array(MAX_FILTER_DEPTH).fill('$not').join('.'));
  });

  it('compileFilter checks filters built in code (they never went through the parser)', () => {
    let f: Filter = Filter.eq('a', 1);
    for (let i = 1; i < MAX_FILTER_DEPTH; i++) f = Filter.not(f);
    expect(() => compileFilter(f)).not.toThrow();
    expectLimit(() => compileFilter(Filter.not(f)), MAX_FILTER_DEPTH, depth);
    for (let i = 0; i < 10_000; i++) f = Filter.and(f);
    expectLimit(() => compileFilter(f), MAX_FILTER_DEPTH, depth);
  });
});

describe('MAX_FILTER_NODES', () => {
  const nodes = /at most 1000 conditions and combinators/;
  const eqs = (n: number): WireFilter[] => Array.from({ length: n }, (_, i) => ({ k: i }));
  it('an $or of 999 conditions (1,000 nodes) passes, 1,000 conditions are refused', () => {
    const p = compileFilter(parseFilter({ $or: eqs(MAX_FILTER_NODES - 1) }));
    expect(p({ k: 998 })).toBe(true);
    expectLimit(() => parseFilter({ $or: eqs(MAX_FILTER_NODES) }), MAX_FILTER_NODES, nodes);
  });

  it('counts every node: the implicit and of several keys, operators on one field', () => {
    const wide: Record<string, JsonValue> = {};
    for (let i = 0; i < MAX_FILTER_NODES - 1; i++) wide[`f${i}`] = i; // 999 eqs + their and
    expect(() => parseFilter(wide)).not.toThrow();
    wide.more = { $gt: 1 };
    expectLimit(() => parseFilter(wide), MAX_FILTER_NODES, nodes);
  });

  it('compileFilter counts filters built in code', () => {
    const many = Array.from({ length: MAX_FILTER_NODES - 1 }, (_, i) => Filter.eq('k', i));
    expect(() => compileFilter(Filter.or(...many))).not.toThrow();
    expectLimit(() => compileFilter(Filter.or(...many, Filter.eq('k', -1))), MAX_FILTER_NODES, nodes);
  });
});

describe('MAX_FILTER_VALUES', () => {
  const values = /at most 10000 values in its \$in, \$nin and \$all lists together/;
  const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);
  it('$in, $nin and $all of 10,000 values pass, 10,001 are refused', () => {
    for (const op of ['$in', '$nin', '$all']) {
      expect(() => compileFilter(parseFilter({ x: { [op]: range(MAX_FILTER_VALUES) } }))).not.toThrow();
      const e = expectLimit(() => parseFilter({ x: { [op]: range(MAX_FILTER_VALUES + 1) } }), MAX_FILTER_VALUES, values);
      expect(e.path).toBe(`x.${op}`);
    }
    expect(compileFilter(parseFilter({ x: { $in: range(MAX_FILTER_VALUES) } }))({ x: 9999 })).toBe(true);
  });

  it('counts the lists of one filter together', () => {
    const half = MAX_FILTER_VALUES / 2;
    expect(() => parseFilter({ x: { $in: range(half) }, y: { $nin: range(half) } })).not.toThrow();
    const e = expectLimit(() => parseFilter({ x: { $in: range(half) }, y: { $nin: range(half + 1) } }), MAX_FILTER_VALUES, values);
    expect(e.path).toBe('y.$nin');
    expectLimit(() => compileFilter(Filter.and(Filter.in('x', range(half)), Filter.all('y', range(half + 1)))), MAX_FILTER_VALUES, values);
  });

  it('the builders refuse one list too long, and 1.5 million values are refused before any is read', () => {
    expect(() => Filter.in('x', range(MAX_FILTER_VALUES))).not.toThrow();
    expectLimit(() => Filter.in('x', range(MAX_FILTER_VALUES + 1)), MAX_FILTER_VALUES, values);
    expectLimit(() => Filter.nin('x', range(MAX_FILTER_VALUES + 1)), MAX_FILTER_VALUES, values);
    expectLimit(() => Filter.all('x', range(MAX_FILTER_VALUES + 1)), MAX_FILTER_VALUES, values);
    expectLimit(() => parseFilter({ x: { $in: range(1_500_000) } }), MAX_FILTER_VALUES, values);
  });
});

describe('a limit inside a query', () => {
  it('keeps its details.limit, at the path within the query', () => {
    const e = expectLimit(() => parseQuery({ filter: nots(MAX_FILTER_DEPTH) }), MAX_FILTER_DEPTH, /levels deep/);
    expect(e.path).toBe(`filter.${Array(MAX_FILTER_DEPTH).fill('$not').join('.')}`);
    expectLimit(() => parseQuery({ filter: { x: { $in: Array(MAX_FILTER_VALUES + 1).fill(1) } } }), MAX_FILTER_VALUES, /values/);
  });
});

describe('MAX_FILTER_PATTERNS', () => {
  const patterns = /at most 16 \$regex conditions/;
  const regexes = (n: number): WireFilter[] => Array.from({ length: n }, (_, i) => ({ s: { $regex: `^${i}$` } }));
  it('16 regular expressions pass, 17 are refused (wire, and filters built in code)', () => {
    expect(compileFilter(parseFilter({ $or: regexes(MAX_FILTER_PATTERNS) }))({ s: '15' })).toBe(true);
    const e = expectLimit(() => parseFilter({ $or: regexes(MAX_FILTER_PATTERNS + 1) }), MAX_FILTER_PATTERNS, patterns);
    expect(e.path).toBe(`$or.${MAX_FILTER_PATTERNS}.s.$regex`);
    const built = Array.from({ length: MAX_FILTER_PATTERNS }, (_, i) => Filter.regex('s', `^${i}$`));
    expect(() => compileFilter(Filter.or(...built))).not.toThrow();
    expectLimit(() => compileFilter(Filter.or(...built, Filter.matches('s', 'x'))), MAX_FILTER_PATTERNS, patterns);
  });
});

describe('MAX_PATTERN_LENGTH', () => {
  it('1,000 characters pass, 1,001 are refused with the limit', () => {
    expect(() => parseFilter({ s: { $regex: 'a'.repeat(MAX_PATTERN_LENGTH) } })).not.toThrow();
    expectLimit(() => parseFilter({ s: { $regex: 'a'.repeat(MAX_PATTERN_LENGTH + 1) } }), MAX_PATTERN_LENGTH, /longer than 1000 characters/);
  });
});
