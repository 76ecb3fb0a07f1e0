// A put is acknowledged once persisted as the default (periodic) sync policy defines it
// on Node: its log append reached the file, so the worker dying right after the
// acknowledgement (terminated: no close, no timer, no flush) loses nothing. Single puts
// and batches, with a memtable small enough that flushes and merges write segments
// (whose appends the OPFS directory buffers until they are synced) on the way.
import { describe, expect, it } from 'vitest';
import { available, openTab, useHarness, withContext } from './tabs-harness.mjs';

const suite = useHarness('put-durable');
const { freshPath } = suite;

describe.skipIf(!available)('acknowledged puts survive the database worker terminated right after (Chromium, OPFS)', () => {
  for (const memtableBytes of [undefined, 64 * 1024]) {
    it(`single puts and putMany, memtable ${memtableBytes ?? 'default'}`, async () => {
      await withContext(suite.h, async (context) => {
        const path = freshPath();
        const first = await openTab(context, suite.h.origin);
        const written = await first.page.evaluate(
          async ({ p, memtableBytes }) => {
            const { KoruDelta } = globalThis.koru;
            let worker;
            const db = await KoruDelta.start({
              path: p,
              ...(memtableBytes !== undefined ? { memtableBytes } : {}),
              worker: () => (worker = new Worker(new URL('/tabs/browser-worker.js', location.href), { type: 'module' })),
            });
            const pad = 'x'.repeat(150);
            let singles = 0;
            for (let i = 0; i < 600; i++) {
              await db.put('single', `k${i}`, { i, pad });
              singles++;
            }
            let batched = 0;
            for (let b = 0; b < 10; b++) {
              await db.putMany(Array.from({ length: 300 }, (_, j) => ({ namespace: 'batch', key: `b${b * 300 + j}`, value: { b, j, pad } })));
              batched += 300;
            }
            await db.put('single', 'last', { last: true });
            // Right after the acknowledgement, in the same task: the worker is gone.
            worker.terminate();
            return { singles, batched, backend: 'terminated' };
          },
          { p: path, memtableBytes },
        );
        expect(written).toEqual({ singles: 600, batched: 3000, backend: 'terminated' });
        // The tab goes too (its lock with it), so the next one opens the files.
        await first.page.close();
        const second = await openTab(context, suite.h.origin);
        const back = await second.page.evaluate(async (p) => {
          const { KoruDelta } = globalThis.koru;
          const db = await KoruDelta.start({ path: p });
          const missing = [];
          for (let i = 0; i < 600; i++) if ((await db.get('single', `k${i}`))?.i !== i) missing.push(`k${i}`);
          for (let k = 0; k < 3000; k++) if ((await db.get('batch', `b${k}`))?.j !== k % 300) missing.push(`b${k}`);
          const last = await db.get('single', 'last');
          const verify = await db.verify();
          const stats = await db.stats();
          await db.close();
          return { missing, last, ok: verify.ok, backend: stats.adapter };
        }, path);
        expect(back).toEqual({ missing: [], last: { last: true }, ok: true, backend: 'opfs' });
        expect(second.errors).toEqual([]);
      });
    });
  }
});
