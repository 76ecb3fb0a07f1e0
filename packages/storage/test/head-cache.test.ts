// The byte-bounded LRU map behind the version store's head and value caches.
import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteLru } from '../src/head-cache.js';

describe('ByteLru', () => {
  it('keeps the most recently used entries within its budget, as a list model does', () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('set' as const), k: fc.nat(20), bytes: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ t: fc.constant('get' as const), k: fc.nat(20) }),
      fc.record({ t: fc.constant('delete' as const), k: fc.nat(20) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 120 }), fc.array(op, { maxLength: 200 }), (budget, ops) => {
        const lru = new ByteLru<number, string>(budget);
        // The model: entries oldest first.
        let model: Array<{ k: number; v: string; bytes: number }> = [];
        ops.forEach((o, i) => {
          if (o.t === 'set') {
            lru.set(o.k, `v${i}`, o.bytes);
            model = model.filter((e) => e.k !== o.k);
            if (o.bytes <= budget / 4) {
              model.push({ k: o.k, v: `v${i}`, bytes: o.bytes });
              let total = model.reduce((n, e) => n + e.bytes, 0);
              while (total > budget) total -= model.shift()!.bytes;
            }
          } else if (o.t === 'get') {
            const e = model.find((x) => x.k === o.k);
            expect(lru.get(o.k)).toBe(e?.v);
            if (e !== undefined) model = [...model.filter((x) => x !== e), e];
          } else {
            lru.delete(o.k);
            model = model.filter((e) => e.k !== o.k);
          }
          expect(lru.size).toBe(model.length);
          expect(lru.bytes).toBe(model.reduce((n, e) => n + e.bytes, 0));
          expect(lru.bytes).toBeLessThanOrEqual(budget);
        });
        lru.clear();
        expect([lru.size, lru.bytes]).toEqual([0, 0]);
      }),
      { seed: fcSeed('head-cache: model'), numRuns: 500 },
    );
  });
});
