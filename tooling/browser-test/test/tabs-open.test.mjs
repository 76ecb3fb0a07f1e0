// How a tab opens a shared database (packages/delta/src/browser/session.ts): its worker
// starts at once, before the locks say whether this tab will run the database, and the
// owning tab lists the OPFS pool for its worker meanwhile. Two tabs opening at the same
// moment end with one owner and one worker; a tab that joins a database another tab runs
// keeps no worker (the early one is terminated) until it takes over.
import { describe, expect, it } from 'vitest';
import { available, join, openTab, until, useHarness, withContext } from './tabs-harness.mjs';

const suite = useHarness('tabs-open');
const { freshPath } = suite;

/**
 * The number of live workers of `page` once it has stayed `count` for 500 ms (a worker
 * is reported some milliseconds after it starts), or whatever it is after 10 s.
 */
async function workers(page, count) {
  let since = Date.now();
  for (const end = Date.now() + 10_000; Date.now() < end; ) {
    if (page.workers().length !== count) since = Date.now();
    else if (Date.now() - since >= 500) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return page.workers().length;
}

describe.skipIf(!available)('opening a shared database (Chromium)', () => {
  it('two tabs opening at the same moment: one owns it and runs the only worker; both read and write', async () => {
    await withContext(suite.h, async (context) => {
      const a = await openTab(context, suite.h.origin);
      const b = await openTab(context, suite.h.origin);
      const path = freshPath();
      const [ja, jb] = await Promise.all([join(a.page, path), join(b.page, path)]);
      expect([ja.owning, jb.owning].filter(Boolean)).toHaveLength(1);
      expect(jb.nodeId).toBe(ja.nodeId);
      const [owner, other] = ja.owning ? [a, b] : [b, a];
      expect(await workers(owner.page, 1)).toBe(1);
      expect(await workers(other.page, 0)).toBe(0);
      await a.page.evaluate(() => globalThis.db.put('notes', 'from-a', { by: 'a' }));
      await b.page.evaluate(() => globalThis.db.put('notes', 'from-b', { by: 'b' }));
      for (const t of [a, b]) {
        expect(await t.page.evaluate(async () => [await globalThis.db.get('notes', 'from-a'), await globalThis.db.get('notes', 'from-b')])).toEqual([{ by: 'a' }, { by: 'b' }]);
      }
      expect(a.errors).toEqual([]);
      expect(b.errors).toEqual([]);
    });
  });

  it('a tab joining a database another tab runs keeps no worker; when the owner closes, it takes over with one and reads everything', async () => {
    await withContext(suite.h, async (context) => {
      const a = await openTab(context, suite.h.origin);
      const b = await openTab(context, suite.h.origin);
      const path = freshPath();
      expect(await join(a.page, path)).toMatchObject({ owning: true });
      await a.page.evaluate(async () => {
        for (let i = 0; i < 20; i++) await globalThis.db.putMany(Array.from({ length: 50 }, (_, j) => ({ namespace: 'notes', key: `k${i * 50 + j}`, value: { by: 'a', i: i * 50 + j } })));
      });
      expect(await join(b.page, path)).toMatchObject({ owning: false });
      expect(await workers(b.page, 0)).toBe(0);
      await a.page.evaluate(() => globalThis.db.close());
      expect(await until(b.page, () => globalThis.db.owning)).toBe(true);
      expect(await workers(b.page, 1)).toBe(1);
      // The new owner opened the files from the pool it listed: all of them are there.
      const read = await b.page.evaluate(async () => ({ first: await globalThis.db.get('notes', 'k0'), last: await globalThis.db.get('notes', 'k999'), keys: (await globalThis.db.listKeys('notes')).length }));
      expect(read).toEqual({ first: { by: 'a', i: 0 }, last: { by: 'a', i: 999 }, keys: 1000 });
      await b.page.evaluate(() => globalThis.db.close());
      expect(a.errors).toEqual([]);
      expect(b.errors).toEqual([]);
    });
  });
});
