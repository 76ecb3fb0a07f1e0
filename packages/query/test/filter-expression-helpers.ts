// Shared by the filter-expression tests (not a test file itself).
import type { JsonValue } from '@koru/engine';
import { expect } from 'vitest';
import { FilterSyntaxError, parseFilterSyntax } from '../src/filter-expression.js';
import { parseFilterExpression } from '../src/filter-expression/checked.js';
import { matcherOf } from '../src/matcher.js';
import { parseFilter, toWire, type WireFilter } from '../src/wire.js';

/**
 * Parses `text` with the checked parser, checking that the query layer accepts the result,
 * that it is in normal form, and that the syntax-only parser gives the same wire form.
 */
export function wire(text: string): WireFilter {
  const w = parseFilterExpression(text);
  const normal = toWire(parseFilter(w));
  expect(JSON.stringify(normal)).toBe(JSON.stringify(w));
  expect(JSON.stringify(parseFilterSyntax(text))).toBe(JSON.stringify(w));
  return w;
}

/** The error `parse(text, option)` throws (by default the checked parser's). */
export function failure(text: string, option?: string, parse: (text: string, option?: string) => unknown = parseFilterExpression): FilterSyntaxError {
  try {
    parse(text, option);
  } catch (e) {
    expect(e).toBeInstanceOf(FilterSyntaxError);
    return e as FilterSyntaxError;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

/** The documents the evaluation tests match against. */
export const DOCS: Readonly<Record<string, JsonValue>> = {
  ann: {
    name: 'Ann',
    age: 31,
    city: 'Oslo',
    tags: ['admin', 'dev'],
    address: { city: 'Oslo', zip: '0150' },
    active: true,
    'first name': 'Ann',
    in: 1,
    items: [{ sku: 'A1' }, { sku: 'B2' }],
    score: -1500,
  },
  bob: { name: 'bob', age: 25, city: 'Rome', tags: ['dev'], active: false, nick: null, score: 2.5, meta: { a: [1, 2] } },
  cy: JSON.parse('{"name":"Cy","age":40,"city":"Bergen","email":"cy@x.no","tags":[],"__proto__":{"x":1}}') as JsonValue,
  dee: { name: 'Dée 🎉', city: 'Oslo', note: 'line1\nline2 "quoted" it\'s' },
};

/** The keys of the documents of `docs` that `text` matches, by the query layer's compiled predicate, sorted. */
export function keys(text: string, docs: Readonly<Record<string, JsonValue>> = DOCS): string[] {
  const matches = matcherOf(wire(text))!;
  return Object.keys(docs)
    .filter((k) => matches(docs[k]!))
    .sort();
}
