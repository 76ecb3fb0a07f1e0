// Concurrent writers on an in-memory database (the durable variant is concurrency.node.test.ts).
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { fcSeed } from '@koru/vitest-preset/helpers';
import { KoruDelta, type JsonValue } from '@koru/delta';
import { concurrencySuite } from './concurrency-suite.js';
import { expectIntactChain } from './support.js';

concurrencySuite(
  async () => ({ db: await KoruDelta.start() }),
  (s) => s.db.close(),
);

type Op =
  | { kind: 'put'; key: string; value: number }
  | { kind: 'delete'; key: string }
  | { kind: 'putMany'; items: Array<{ key: string; value: number }> };

const keyArb = fc.constantFrom('a', 'b', 'c');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), key: keyArb, value: fc.integer() }),
  fc.record({ kind: fc.constant('delete' as const), key: keyArb }),
  fc.record({
    kind: fc.constant('putMany' as const),
    items: fc.array(fc.record({ key: keyArb, value: fc.integer() }), { minLength: 1, maxLength: 4 }),
  }),
);

test('property: any interleaving of writes issued at once matches a sequential model', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), async (ops) => {
      const db = await KoruDelta.start();
      try {
        // Model: each key's list of values (null = tombstone), applied in issue order.
        const model = new Map<string, Array<JsonValue | 'deleted'>>();
        const live = (k: string) => {
          const h = model.get(k);
          return h !== undefined && h.length > 0 && h[h.length - 1] !== 'deleted';
        };
        const expected: Array<'ok' | 'KEY_NOT_FOUND'> = [];
        const issued: Array<Promise<unknown>> = [];
        for (const op of ops) {
          if (op.kind === 'put') {
            issued.push(db.put('p', op.key, op.value));
            model.set(op.key, [...(model.get(op.key) ?? []), op.value]);
            expected.push('ok');
          } else if (op.kind === 'delete') {
            issued.push(db.delete('p', op.key));
            if (live(op.key)) {
              model.get(op.key)!.push('deleted');
              expected.push('ok');
            } else expected.push('KEY_NOT_FOUND');
          } else {
            issued.push(db.putMany(op.items.map((i) => ({ namespace: 'p', key: i.key, value: i.value }))));
            for (const i of op.items) model.set(i.key, [...(model.get(i.key) ?? []), i.value]);
            expected.push('ok');
          }
        }
        const settled = await Promise.allSettled(issued);
        expect(settled.map((o) => (o.status === 'fulfilled' ? 'ok' : (o.reason as { code: string }).code))).toEqual(expected);
        for (const [key, values] of model) {
          const h = await db.history('p', key);
          expect(h.map((v) => (v.deleted ? 'deleted' : v.value))).toEqual(values);
          expectIntactChain(h);
          expect(await db.contains('p', key)).toBe(live(key));
        }
        expect((await db.stats()).versions).toBe([...model.values()].reduce((n, h) => n + h.length, 0));
      } finally {
        await db.close();
      }
    }),
    { seed: fcSeed('concurrent-model'), numRuns: 100 },
  );
});
