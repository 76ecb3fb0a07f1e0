import type { JsonValue } from '@koru/engine';
import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileFilter } from '../src/compile.js';
import { Filter } from '../src/filter.js';
import { compareJson, jsonEquals } from '../src/order.js';
import { parseFilter, toWire } from '../src/wire.js';

const KEYS = ['a', 'b', '0', '1', '__proto__', 'constructor', '$x'];
const PATHS = ['a', 'b', 'a.b', 'a.0', 'b.1.a', '__proto__', '__proto__.a', 'constructor', 'a.$x'];

const scalar = fc.constantFrom<JsonValue>(null, true, false, 0, 1, -1, 2.5, '', 'a', 'ab', 'b');
const { value } = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 3 }),
  ),
}));
const path = fc.constantFrom(...PATHS);

const { filter } = fc.letrec<{ filter: Filter }>((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(fc.constantFrom('eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'contains') as fc.Arbitrary<'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte' | 'contains'>, path, value).map(
      ([op, p, v]) => Filter[op](p, v),
    ),
    fc.tuple(path, fc.boolean()).map(([p, b]) => Filter.exists(p, b)),
    fc.tuple(path, fc.constantFrom('^a', 'b$', '.', 'a|b', '^$'), fc.constantFrom(undefined, 'i', 'ms')).map(([p, re, fl]) =>
      Filter.matches(p, re, fl),
    ),
    fc.tuple(path, fc.array(value, { maxLength: 3 })).map(([p, vs]) => Filter.in(p, vs)),
    fc.tuple(path, fc.array(value, { maxLength: 3 })).map(([p, vs]) => Filter.nin(p, vs)),
    fc.tuple(path, fc.array(scalar, { maxLength: 2 })).map(([p, vs]) => Filter.all(p, vs)),
    fc.tuple(path, fc.nat(3)).map(([p, n]) => Filter.size(p, n)),
    fc.tuple(path, tie('filter')).map(([p, f]) => Filter.elemMatch(p, f)),
    fc.tuple(path, scalar, scalar).map(([p, lo, hi]) => Filter.elemMatch(p, { $gte: lo, $not: { $gt: hi } })),
    fc.tuple(path, scalar).map(([p, v]) => parseFilter(JSON.parse(JSON.stringify({ [p]: { $not: { $lt: v } } })))),
    fc.tuple(path, fc.constantFrom('^a', 'B$', '.'), fc.constantFrom(undefined, 'i', 'su')).map(([p, re, fl]) => Filter.regex(p, re, fl)),
    fc.array(tie('filter'), { maxLength: 3 }).map((fs) => Filter.and(...fs)),
    fc.array(tie('filter'), { maxLength: 3 }).map((fs) => Filter.or(...fs)),
    tie('filter').map((f) => Filter.not(f)),
  ),
}));

describe('properties', () => {
  it('builder → wire JSON → parseFilter compiles to the same predicate', () => {
    fc.assert(
      fc.property(filter, fc.array(value, { maxLength: 8 }), (f, docs) => {
        const wire = JSON.parse(JSON.stringify(toWire(f))) as unknown;
        const parsed = parseFilter(wire);
        expect(parsed).toEqual(f);
        // A Filter's JSON is its wire form.
        expect(JSON.parse(JSON.stringify(f))).toEqual(wire);
        const direct = compileFilter(f);
        const viaWire = compileFilter(parsed);
        for (const d of docs) expect(viaWire(d)).toBe(direct(d));
        expect(({} as Record<string, unknown>).a).toBeUndefined();
      }),
      { seed: fcSeed('query wire round trip'), numRuns: 500 },
    );
  });

  it('compareJson is a total order consistent with jsonEquals', () => {
    fc.assert(
      fc.property(value, value, value, (a, b, c) => {
        expect(Math.sign(compareJson(a, b)) + Math.sign(compareJson(b, a))).toBe(0);
        expect(compareJson(a, b) === 0).toBe(jsonEquals(a, b));
        if (compareJson(a, b) <= 0 && compareJson(b, c) <= 0) expect(compareJson(a, c)).toBeLessThanOrEqual(0);
      }),
      { seed: fcSeed('compareJson total order'), numRuns: 1000 },
    );
  });
});
