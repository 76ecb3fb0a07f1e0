// The shared browser database across owners: it persists (OPFS) across a reload; when
// the owning tab closes, or is killed in the middle of writes, a waiting tab opens the
// same files in a worker of its own and everything goes on there: nothing acknowledged
// is lost, no write is stored twice, subscriptions resume where they were.
import { describe, expect, it } from 'vitest';
import { available, join, openTab, until, useHarness, withContext } from './tabs-harness.mjs';

const suite = useHarness('takeover');
const { freshPath } = suite;

describe.skipIf(!available)('a shared browser database changing owners (Chromium, OPFS)', () => {
  it('persists 10,000 writes across a reload of the page', async () => {
    await withContext(suite.h, async (context) => {
      const { page, errors } = await openTab(context, suite.h.origin);
      const path = freshPath();
      const written = await page.evaluate(async (p) => {
        const db = await globalThis.koru.KoruDelta.start({ path: p });
        // 10,000 single writes, 500 in flight at a time.
        for (let i = 0; i < 10_000; i += 500) {
          const batch = [];
          for (let j = i; j < i + 500; j++) batch.push(db.put('items', `k${String(j).padStart(5, '0')}`, { j, text: `item ${j}` }));
          await Promise.all(batch);
        }
        const stats = await db.stats();
        return { seq: db.seq, backend: stats.adapter, usage: stats.estimate?.usage ?? -1 };
      }, path);
      expect(written.seq).toBe(10_000);
      expect(written.backend).toBe('opfs');
      expect(written.usage).toBeGreaterThan(0);
      // Reloaded without closing: the page and its worker are gone as in a crash.
      await page.reload();
      await page.waitForFunction(() => globalThis.koru !== undefined);
      const reopened = await page.evaluate(async (p) => {
        const db = await globalThis.koru.KoruDelta.start({ path: p });
        const keys = await db.listKeys('items');
        const sample = await Promise.all([0, 1, 4_999, 9_998, 9_999].map((j) => db.get('items', `k${String(j).padStart(5, '0')}`)));
        const verify = await db.verify();
        const out = { seq: db.seq, keys: keys.length, first: keys[0], last: keys.at(-1), sample: sample.map((v) => v.j), ok: verify.ok };
        await db.close();
        return out;
      }, path);
      expect(reopened).toEqual({ seq: 10_000, keys: 10_000, first: 'k00000', last: 'k09999', sample: [0, 1, 4_999, 9_998, 9_999], ok: true });
      expect(errors).toEqual([]);
    });
  });

  it('when the owner closes, the waiting tab takes over: writes streaming meanwhile all succeed, once each, and the subscription goes on there', async () => {
    await withContext(suite.h, async (context) => {
      const a = await openTab(context, suite.h.origin);
      const b = await openTab(context, suite.h.origin);
      const path = freshPath();
      await join(a.page, path);
      await join(b.page, path);
      await b.page.evaluate(() => globalThis.db.put('notes', 'before', { by: 'b' }));
      // B keeps writing (four writers) while A closes.
      await b.page.evaluate(() => {
        globalThis.stop = false;
        globalThis.acked = [];
        globalThis.failed = [];
        const loop = async (lane) => {
          for (let i = 0; !globalThis.stop; i++) {
            try {
              await globalThis.db.put('notes', `w${lane}-${i}`, { by: 'b' });
              globalThis.acked.push(i);
            } catch (e) {
              globalThis.failed.push(`${e.code}: ${e.message}`);
            }
          }
        };
        globalThis.writing = Promise.all([0, 1, 2, 3].map(loop));
      });
      await until(b.page, () => globalThis.acked.length >= 50);
      await a.page.evaluate(() => globalThis.db.close());
      // Closed here: calls fail with CLOSED.
      expect(await a.page.evaluate(() => globalThis.db.get('notes', 'before').catch((e) => e.code))).toBe('CLOSED');
      await until(b.page, () => globalThis.db.owning);
      const base = await b.page.evaluate(() => globalThis.acked.length);
      await until(b.page, (n) => globalThis.acked.length >= n, base + 100);
      const after = await b.page.evaluate(async () => {
        globalThis.stop = true;
        await globalThis.writing;
        const db = globalThis.db;
        const versions = await db.queryHistory('notes');
        const keys = await db.listKeys('notes');
        await new Promise((r) => setTimeout(r, 100));
        return {
          owning: db.owning,
          failed: globalThis.failed,
          acked: globalThis.acked.length,
          versions: versions.length,
          keys: keys.length,
          seq: db.seq,
          before: await db.get('notes', 'before'),
          seen: globalThis.seen.map((s) => Number(s.split(':')[0])),
        };
      });
      // A closing owner answers what it ran and sends back what it did not: nothing fails.
      expect(after.failed).toEqual([]);
      expect(after).toMatchObject({ owning: true, before: { by: 'b' }, keys: after.acked + 1, versions: after.acked + 1, seq: after.acked + 1 });
      expect(after.seen).toEqual(Array.from({ length: after.seq }, (_, i) => i + 1));
      // A new tab joins the new owner.
      const c = await openTab(context, suite.h.origin);
      expect((await join(c.page, path)).owning).toBe(false);
      expect(await c.page.evaluate(() => globalThis.db.contains('notes', 'before'))).toBe(true);
      await c.page.evaluate(() => globalThis.db.close());
      await b.page.evaluate(() => globalThis.db.close());
      expect([...a.errors, ...b.errors, ...c.errors]).toEqual([]);
    });
  });

  it('killing the owning tab mid-writes: every acknowledged write is there, the other tab takes over and keeps writing, none is stored twice, its feed skips nothing', async () => {
    await withContext(suite.h, async (context) => {
      const a = await openTab(context, suite.h.origin);
      const b = await openTab(context, suite.h.origin);
      const path = freshPath();
      expect((await join(a.page, path)).owning).toBe(true);
      expect((await join(b.page, path)).owning).toBe(false);
      // The owner's acknowledgements reach the test as they happen (a subset of them if
      // the tab dies with some on the way: never one that was not acknowledged).
      const ackedA = new Set();
      await a.page.exposeFunction('reportAck', (key) => void ackedA.add(key));
      const streams = (prefix) => {
        globalThis.stop = false;
        globalThis.acked = [];
        globalThis.failed = [];
        const loop = async (lane) => {
          for (let i = 0; !globalThis.stop; i++) {
            const key = `${prefix}${lane}-${i}`;
            try {
              await globalThis.db.put('notes', key, { by: prefix, i });
              globalThis.acked.push(key);
              globalThis.acked$?.(key);
            } catch (e) {
              globalThis.failed.push({ key, code: e.code, message: e.message });
            }
          }
        };
        // And a reader of what was acknowledged: reads in flight when the owner dies are
        // sent again to the next one, never failed.
        globalThis.readFailures = [];
        globalThis.reads = 0;
        const reader = async () => {
          for (let n = 1; !globalThis.stop; n++) {
            const key = globalThis.acked.at(-1);
            if (key === undefined) {
              await new Promise((r) => setTimeout(r, 1));
              continue;
            }
            try {
              await globalThis.db.get('notes', key);
              globalThis.reads++;
            } catch (e) {
              globalThis.readFailures.push(`${key}: ${e.code} ${e.message}`);
            }
            // A read the tab's cache answers settles at once, as a local database's does:
            // without yielding, a loop of them would starve the tab's messages.
            if (n % 16 === 0) await new Promise((r) => setTimeout(r, 0));
          }
        };
        // Four writers each, so that writes are in flight whenever the owner dies.
        globalThis.writing = Promise.all([...[0, 1, 2, 3].map(loop), reader()]);
      };
      await a.page.evaluate(() => (globalThis.acked$ = (k) => void globalThis.reportAck(k)));
      await a.page.evaluate(streams, 'a');
      await b.page.evaluate(streams, 'b');
      await until(b.page, () => globalThis.acked.length >= 150);
      await expect.poll(() => ackedA.size, { timeout: 30_000 }).toBeGreaterThanOrEqual(150);

      // The owner dies mid-writes: no beforeunload, no goodbye.
      await a.page.close({ runBeforeUnload: false });
      const ackedBeforeKill = new Set(ackedA);

      // The other tab takes over and keeps writing.
      await until(b.page, () => globalThis.db.owning);
      const base = await b.page.evaluate(() => globalThis.acked.length);
      await until(b.page, (n) => globalThis.acked.length >= n, base + 200);
      const result = await b.page.evaluate(async () => {
        globalThis.stop = true;
        await globalThis.writing;
        const db = globalThis.db;
        const keys = await db.listKeys('notes');
        const versions = await db.queryHistory('notes');
        const perKey = {};
        for (const v of versions) perKey[v.key] = (perKey[v.key] ?? 0) + 1;
        // Every change of the namespace reached this tab's subscription once, in order.
        const seq = db.seq;
        await new Promise((r) => setTimeout(r, 200));
        return {
          keys,
          twice: Object.entries(perKey).filter(([, n]) => n !== 1),
          acked: globalThis.acked,
          failed: globalThis.failed,
          readFailures: globalThis.readFailures,
          reads: globalThis.reads,
          seq,
          seenSeqs: globalThis.seen.map((s) => Number(s.split(':')[0])),
          verified: (await db.verify()).ok,
        };
      });
      const present = new Set(result.keys);
      expect([...ackedBeforeKill].filter((k) => !present.has(k))).toEqual([]);
      expect(result.acked.filter((k) => !present.has(k))).toEqual([]);
      expect(result.twice).toEqual([]);
      expect(result.readFailures).toEqual([]);
      expect(result.reads).toBeGreaterThan(0);
      expect(result.verified).toBe(true);
      // Only writes in flight when the owner died can fail (one per writer at most), and
      // they say the outcome is unknown.
      expect(result.failed.length).toBeLessThanOrEqual(4);
      for (const f of result.failed) {
        expect(f.code).toBe('IO_ERROR');
        expect(f.message).toMatch(/may or may not have been stored/);
      }
      expect(result.seq).toBe(result.keys.length);
      expect(result.seenSeqs).toEqual(Array.from({ length: result.seq }, (_, i) => i + 1));
      expect(b.errors).toEqual([]);
      await b.page.evaluate(() => globalThis.db.close());
    });
  });
});
