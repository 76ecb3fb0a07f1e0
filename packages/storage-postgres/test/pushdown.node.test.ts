// Filters pushed down to SQL never lose a document: on random documents of mixed types
// and random filters, what PostgreSQL returns holds every document @koru/query's matcher
// accepts, and exactly those when the pushed condition is the whole filter — with and
// without a secondary index on the field (the planner may then read the index).
import { compileFilter, type Filter } from '@koru/query';
import type { JsonValue } from '@koru/engine';
import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { indexColumns, pathExpression, pushDown } from '../src/index.js';
import { pgTool, usePostgres } from './support.js';

const PATHS = ['a', 'b', 'a.c', 'arr.0', 'arr.-1', 'arr.01', 'a.+1'];

const scalar: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom(0.5, -0.25, 1e21, 2 ** 53, 1.5),
  fc.constantFrom('', 'a', 'ab', 'b', 'Oslo', 'oslo', 'é', '\u{1F600}', '\uE000', 'a\u0000b', 'x'.repeat(450), 'x'.repeat(450) + 'y'),
);
const value: fc.Arbitrary<JsonValue> = fc.oneof(
  { weight: 5, arbitrary: scalar },
  { weight: 1, arbitrary: fc.array(scalar, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.record({ c: scalar }, { requiredKeys: [] }) },
);
// `arr` is sometimes an object with keys an array position would be read from.
const doc: fc.Arbitrary<JsonValue> = fc.record(
  { a: fc.oneof(value, fc.record({ '+1': scalar })), b: value, arr: fc.oneof(fc.array(scalar, { maxLength: 3 }), fc.record({ '-1': scalar, '01': scalar, '0': scalar })) },
  { requiredKeys: [] },
);

const leaf: fc.Arbitrary<Filter> = fc.oneof(
  fc.record({ op: fc.constantFrom('eq', 'ne', 'gt', 'gte', 'lt', 'lte'), path: fc.constantFrom(...PATHS), value }) as fc.Arbitrary<Filter>,
  fc.record({ op: fc.constantFrom('in', 'nin'), path: fc.constantFrom(...PATHS), values: fc.array(value, { maxLength: 3 }) }) as fc.Arbitrary<Filter>,
  fc.record({ op: fc.constant('exists'), path: fc.constantFrom(...PATHS), exists: fc.boolean() }) as fc.Arbitrary<Filter>,
  fc.record({ op: fc.constant('contains'), path: fc.constantFrom(...PATHS), value: scalar }) as fc.Arbitrary<Filter>,
);
const filter: fc.Arbitrary<Filter> = fc.letrec<{ f: Filter }>((tie) => ({
  f: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.record({ op: fc.constantFrom('and', 'or'), filters: fc.array(tie('f'), { maxLength: 3 }) }) as fc.Arbitrary<Filter>,
    fc.record({ op: fc.constant('not'), filter: tie('f') }) as fc.Arbitrary<Filter>,
  ),
})).f;

describe.skipIf(!pgTool.available)('filters pushed down to PostgreSQL', () => {
  const pg = usePostgres();

  for (const indexed of [false, true]) {
    it(`return every matching document, and only those when complete (${indexed ? 'with' : 'without'} indexes)`, async () => {
      const store = await pg.open(await pg.fresh());
      const docs = fc.sample(doc, { seed: fcSeed(`pushdown documents (${indexed ? 'indexed' : 'plain'})`), numRuns: 150 });
      await store.putMany(docs.map((value, i) => ({ namespace: 'docs', key: `k${String(i).padStart(3, '0')}`, value })));
      if (indexed) {
        for (const [i, p] of PATHS.entries()) {
          await store.run('index', `CREATE INDEX test_ix_${i} ON koru_heads (ns, ${indexColumns(pathExpression(p, 'doc')!)}) WHERE NOT deleted`);
        }
        await store.run('analyze', 'ANALYZE koru_heads');
        // Make the planner prefer the indexes, so they are what answers.
        await store.run('planner', 'SET enable_seqscan = off');
      }
      const all = await store.entries('docs');
      // Documents jsonb cannot hold (a U+0000 in a string) are always candidates, checked in the process.
      const textOnly = new Set(all.filter((v) => JSON.stringify(v.value).includes('\\u0000')).map((v) => v.key));
      expect(textOnly.size).toBeGreaterThan(0);
      let complete = 0;
      await fc.assert(
        fc.asyncProperty(filter, async (f) => {
          const expected = all.filter((v) => compileFilter(f)(v.value)).map((v) => v.key);
          const pushed = pushDown(f, 2);
          if (pushed === undefined) return;
          const got = (await store.entriesWhere('docs', pushed.sql, pushed.params)).map((v) => v.key);
          const missing = expected.filter((k) => !got.includes(k));
          expect(missing, `${JSON.stringify(f)} → ${pushed.sql}`).toEqual([]);
          if (pushed.complete) {
            complete++;
            expect(got.filter((k) => !textOnly.has(k)).sort(), `${JSON.stringify(f)} → ${pushed.sql}`).toEqual(expected.filter((k) => !textOnly.has(k)).sort());
          }
        }),
        { seed: fcSeed('pushdown filters'), numRuns: 400 },
      );
      // The property is only worth something if complete pushdowns were met often.
      expect(complete).toBeGreaterThan(100);
    }, 120_000);
  }

  it('keeps in the process what SQL cannot say, and marks the rest incomplete', () => {
    expect(pushDown({ op: 'matches', path: 'a', pattern: 'x' } as Filter, 2)).toBeUndefined();
    // A segment `#>` would read as an array position goes through koru_path instead.
    expect(pushDown({ op: 'eq', path: 'a.-1', value: 1 } as Filter, 2)!.sql).toContain('koru_path(h.doc');
    expect(pushDown({ op: 'eq', path: 'a.0', value: 1 } as Filter, 2)!.sql).not.toContain('koru_path');
    const half = pushDown({ op: 'and', filters: [{ op: 'eq', path: 'a', value: 1 }, { op: 'matches', path: 'b', pattern: 'x' }] } as Filter, 2)!;
    expect(half.complete).toBe(false);
    expect(half.fields).toEqual(['a']);
    // An or with a branch SQL cannot say could match any row: nothing goes down.
    expect(pushDown({ op: 'or', filters: [{ op: 'eq', path: 'a', value: 1 }, { op: 'matches', path: 'b', pattern: 'x' }] } as Filter, 2)).toBeUndefined();
    // Only an exact condition may be negated.
    expect(pushDown({ op: 'not', filter: { op: 'gt', path: 'a', value: 'abc' } } as Filter, 2)).toBeUndefined();
    expect(pushDown({ op: 'not', filter: { op: 'gt', path: 'a', value: 3 } } as Filter, 2)!.complete).toBe(true);
  });
});
