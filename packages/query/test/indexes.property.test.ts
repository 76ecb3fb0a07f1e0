// Indexed results equal scan results: random documents, writes, deletes and filters.
import type { JsonValue } from '@koru/engine';
import { CausalStorage } from '@koru/storage';
import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { executeQuery } from '../src/execute.js';
import { Filter } from '../src/filter.js';
import { IndexSet } from '../src/indexes.js';
import type { QuerySpec } from '../src/query.js';

// Few distinct values of every JSON type, so equalities and ranges hit often.
const scalar = fc.constantFrom<JsonValue>(null, true, false, 0, 1, -1, 2.5, 3, '', 'a', 'b', 'ab');
const field = fc.oneof(scalar, fc.array(scalar, { maxLength: 2 }), fc.dictionary(fc.constantFrom('x', 'y'), scalar, { maxKeys: 2 }));
const doc = fc.record({ a: field, b: fc.integer({ min: 0, max: 4 }), c: fc.constantFrom('p', 'q', 'r') }, { requiredKeys: ['c'] });
const key = fc.constantFrom('k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9');
const op = fc.oneof(
  fc.record({ put: key, doc }),
  fc.record({ del: key }),
);
const path = fc.constantFrom('a', 'b', 'c', 'a.x', 'a.0');
const { filter } = fc.letrec<{ filter: Filter }>((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(fc.constantFrom('eq', 'ne', 'gt', 'gte', 'lt', 'lte') as fc.Arbitrary<'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte'>, path, field).map(
      ([o, p, v]) => Filter[o](p, v),
    ),
    fc.tuple(path, fc.array(field, { maxLength: 3 })).map(([p, vs]) => Filter.in(p, vs)),
    // Operators no index serves: alone they scan, inside and/or they must not change the result.
    fc.tuple(path, fc.array(field, { maxLength: 3 })).map(([p, vs]) => Filter.nin(p, vs)),
    fc.tuple(path, fc.array(scalar, { maxLength: 2 })).map(([p, vs]) => Filter.all(p, vs)),
    fc.tuple(path, fc.nat(2)).map(([p, n]) => Filter.size(p, n)),
    fc.tuple(path, scalar).map(([p, v]) => Filter.elemMatch(p, { $gte: v })),
    fc.tuple(path, fc.constantFrom('^a', 'b', '^$'), fc.constantFrom(undefined, 'i')).map(([p, re, fl]) => Filter.regex(p, re, fl)),
    fc.tuple(path, scalar).map(([p, v]) => Filter.not({ [p]: { $gt: v } })),
    fc.array(tie('filter'), { maxLength: 3 }).map((fs) => Filter.and(...fs)),
    fc.array(tie('filter'), { maxLength: 3 }).map((fs) => Filter.or(...fs)),
    tie('filter').map((f) => Filter.not(f)),
  ),
}));
const spec: fc.Arbitrary<QuerySpec> = fc.record(
  {
    filter,
    sort: fc.constantFrom([{ path: 'c', direction: 'asc' as const }], [{ path: 'a', direction: 'desc' as const }]),
    limit: fc.integer({ min: 0, max: 5 }),
  },
  { requiredKeys: ['filter'] },
);

async function apply(s: CausalStorage, ops: ReadonlyArray<{ put?: string; doc?: JsonValue; del?: string }>): Promise<void> {
  for (const o of ops) {
    if (o.put !== undefined) await s.put('t', o.put, o.doc);
    else if (s.contains('t', o.del!)) await s.delete('t', o.del!);
  }
}

describe('indexes, property', () => {
  it('a query through the indexes returns exactly what a scan returns, in the same order', async () => {
    let usedIndex = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), fc.array(op, { maxLength: 25 }), fc.array(spec, { minLength: 1, maxLength: 6 }), async (before, after, specs) => {
        const s = await CausalStorage.open();
        await apply(s, before);
        const indexes = new IndexSet(s);
        await indexes.create('t', 'a');
        await indexes.create('t', 'b');
        await indexes.create('t', 'a.x');
        await apply(s, after); // maintained by writes, not only built
        // A fresh set over the same store builds its contents lazily, as after a reopen.
        for (const set of [indexes, new IndexSet(s)]) {
          for (const q of specs) {
            const viaIndex = set.execute('t', q);
            const scan = executeQuery(s.entries('t'), q);
            expect(viaIndex.rows).toEqual(scan.rows);
            expect(viaIndex.total).toBe(scan.total);
            if (viaIndex.explain.strategy === 'index') usedIndex++;
          }
        }
      }),
      { seed: fcSeed('indexes'), numRuns: 300 },
    );
    // The property says nothing if no query ever went through an index.
    expect(usedIndex).toBeGreaterThan(100);
  });
});
