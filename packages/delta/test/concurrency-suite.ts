// Concurrent writers, shared by the in-memory and durable concurrency tests.
import { expect, test } from 'vitest';
import type { KoruDelta, Version } from '@koru/delta';
import { expectIntactChain } from './support.js';

/** A database under test; `reopen` closes it and opens the same data again (durable only). */
export interface Subject {
  readonly db: KoruDelta;
  readonly reopen?: () => Promise<KoruDelta>;
}

export function concurrencySuite(open: () => Promise<Subject>, close: (s: Subject) => Promise<void>): void {
  test('1,000 concurrent puts to one key: 1,000 versions, one unbroken chain in issue order', async () => {
    const s = await open();
    try {
      const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => s.db.put('hot', 'counter', { i })));
      expect(results).toHaveLength(1000);
      results.forEach((v, i) => {
        expect(v.value).toEqual({ i });
        expect(v.previousVersion).toBe(i === 0 ? null : results[i - 1]!.versionId);
      });
      expect(new Set(results.map((v) => v.versionId)).size).toBe(1000);
      const h = await s.db.history('hot', 'counter');
      expect(h).toHaveLength(1000);
      expect(h).toEqual(results);
      expectIntactChain(h);
      expect(await s.db.get('hot', 'counter')).toEqual({ i: 999 });
      expect((await s.db.stats()).versions).toBe(1000);
      if (s.reopen) {
        const again = await s.reopen();
        expect(await again.history('hot', 'counter')).toEqual(results);
        expect((await again.verify()).ok).toBe(true);
      }
    } finally {
      await close(s);
    }
  });

  test('concurrent puts to many keys: every key has its own chain in issue order', async () => {
    const s = await open();
    try {
      const KEYS = 100;
      const ROUNDS = 10;
      const writes: Array<Promise<Version>> = [];
      for (let r = 0; r < ROUNDS; r++) for (let k = 0; k < KEYS; k++) writes.push(s.db.put(`ns${k % 3}`, `key-${k}`, { k, r }));
      const results = await Promise.all(writes);
      expect((await s.db.stats()).versions).toBe(KEYS * ROUNDS);
      expect((await s.db.stats()).keys).toBe(KEYS);
      const check = async (db: KoruDelta) => {
        for (let k = 0; k < KEYS; k++) {
          const h = await db.history(`ns${k % 3}`, `key-${k}`);
          expect(h.map((v) => v.value)).toEqual(Array.from({ length: ROUNDS }, (_, r) => ({ k, r })));
          expect(h).toEqual(results.filter((v) => v.key === `key-${k}`));
          expectIntactChain(h);
        }
      };
      await check(s.db);
      if (s.reopen) await check(await s.reopen());
    } finally {
      await close(s);
    }
  });

  test('compare-and-set race: of 100 writers expecting the same head exactly one wins', async () => {
    const s = await open();
    try {
      const head = await s.db.put('cas', 'k', 'start');
      const outcomes = await Promise.allSettled(
        Array.from({ length: 100 }, (_, i) => s.db.put('cas', 'k', i, { ifVersion: head.versionId })),
      );
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(99);
      for (const l of lost) expect((l.reason as { code: string }).code).toBe('VERSION_CONFLICT');
      const h = await s.db.history('cas', 'k');
      expect(h).toHaveLength(2);
      expect(h[1]).toEqual((won[0] as PromiseFulfilledResult<Version>).value);

      const creates = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => s.db.put('cas', 'fresh', i, { ifVersion: null })));
      expect(creates.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      expect(await s.db.history('cas', 'fresh')).toHaveLength(1);
    } finally {
      await close(s);
    }
  });

  test('interleaved put, putMany and delete issued without waiting keep one chain per key', async () => {
    const s = await open();
    try {
      const ops = [
        s.db.put('mix', 'a', 1),
        s.db.putMany([
          { namespace: 'mix', key: 'a', value: 2 },
          { namespace: 'mix', key: 'b', value: 'b1' },
        ]),
        s.db.delete('mix', 'a'),
        s.db.delete('mix', 'a'), // already deleted by the queued tombstone
        s.db.put('mix', 'a', 3),
        s.db.delete('mix', 'b'),
        s.db.put('mix', 'b', 'b2'),
      ];
      const out = await Promise.allSettled(ops);
      expect(out.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
      expect(((out[3] as PromiseRejectedResult).reason as { code: string }).code).toBe('KEY_NOT_FOUND');
      const a = await s.db.history('mix', 'a');
      expect(a.map((v) => (v.deleted ? 'deleted' : v.value))).toEqual([1, 2, 'deleted', 3]);
      expectIntactChain(a);
      const b = await s.db.history('mix', 'b');
      expect(b.map((v) => (v.deleted ? 'deleted' : v.value))).toEqual(['b1', 'deleted', 'b2']);
      expectIntactChain(b);
    } finally {
      await close(s);
    }
  });
}
