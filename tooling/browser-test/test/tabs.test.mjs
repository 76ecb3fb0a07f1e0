// One browser database shared by every tab: two pages of one browser context (one
// origin) open `KoruDelta.start({ path })`; the first runs the engine in its worker,
// the other forwards to it; writes, subscriptions and errors cross; when the owner
// closes, the other tab takes over.
import { describe, expect, it } from 'vitest';
import { available, join, openTab, until, useHarness, withContext } from './tabs-harness.mjs';

const suite = useHarness('tabs');
const { freshPath } = suite;

describe.skipIf(!available)('one database shared by every tab (Chromium)', () => {
  it('two tabs write and subscribe: each sees the other\'s writes, and both subscriptions fire for both', async () => {
    await withContext(suite.h, async (context) => {
      const a = await openTab(context, suite.h.origin);
      const b = await openTab(context, suite.h.origin);
      const path = freshPath();
      const ja = await join(a.page, path);
      const jb = await join(b.page, path);
      expect(ja).toMatchObject({ owning: true, isKoruDelta: true });
      expect(jb).toMatchObject({ owning: false, isKoruDelta: true, nodeId: ja.nodeId });

      const va = await a.page.evaluate(() => globalThis.db.put('notes', 'n1', { by: 'a' }).then((v) => ({ frozen: Object.isFrozen(v), seq: globalThis.db.seq })));
      const vb = await b.page.evaluate(async () => {
        const v = await globalThis.db.put('notes', 'n2', { by: 'b' });
        return { frozen: Object.isFrozen(v), seq: globalThis.db.seq };
      });
      expect(va).toEqual({ frozen: true, seq: 1 });
      expect(vb).toEqual({ frozen: true, seq: 2 });

      const expected = ['1:n1:a', '2:n2:b'];
      expect(await until(a.page, (n) => globalThis.seen.length >= n && globalThis.seen, 2)).toEqual(expected);
      expect(await until(b.page, (n) => globalThis.seen.length >= n && globalThis.seen, 2)).toEqual(expected);

      const readB = await b.page.evaluate(async () => {
        const value = await globalThis.db.get('notes', 'n1');
        const history = await globalThis.db.history('notes', 'n1');
        const keys = await globalThis.db.listKeys('notes');
        // Page options and countKeys cross to the owner's worker too.
        const page = await globalThis.db.listKeys('notes', { prefix: 'n', after: 'n1', limit: 1 });
        const count = await globalThis.db.countKeys('notes');
        const refused = await globalThis.db.listKeys('notes', { cursor: 'n1' }).then(() => 'listed', (e) => `${e.name} ${e.code}`);
        const q = await globalThis.db.query('notes', globalThis.koru.Query.new().filter(globalThis.koru.Filter.eq('by', 'a')));
        return { value, frozen: Object.isFrozen(value), versions: history.length, keys, page, count, refused, rows: q.rows.map((r) => r.key), seq: globalThis.db.seq };
      });
      expect(readB).toEqual({
        value: { by: 'a' }, frozen: true, versions: 1, keys: ['n1', 'n2'], page: ['n2'], count: 2, refused: 'InvalidArgumentError INVALID_ARGUMENT', rows: ['n1'], seq: 2,
      });
      // The forwarding tab's seq follows the owner's commits without asking.
      await a.page.evaluate(() => globalThis.db.put('notes', 'n3', { by: 'a' }));
      expect(await until(b.page, () => globalThis.db.seq === 3 && globalThis.db.seq)).toBe(3);

      // changes() in the forwarding tab replays from `since` and follows live changes.
      const replay = await b.page.evaluate(async () => {
        const out = [];
        const it = globalThis.db.changes({ namespace: 'notes', since: 1 });
        for await (const e of it) {
          out.push(e.key);
          if (out.length === 2) break;
        }
        return out;
      });
      expect(replay).toEqual(['n2', 'n3']);

      const stats = await b.page.evaluate(() => globalThis.db.stats());
      expect(stats.keys).toBe(3);
      expect(stats.estimate).toMatchObject({ usage: expect.any(Number), quota: expect.any(Number), persisted: expect.any(Boolean) });
      expect(stats.estimate.quota).toBeGreaterThan(0);
      expect(typeof (await b.page.evaluate(() => globalThis.koru.KoruDelta.requestPersistence()))).toBe('boolean');

      await b.page.evaluate(() => globalThis.db.close());
      await a.page.evaluate(() => globalThis.db.close());
      expect(a.errors).toEqual([]);
      expect(b.errors).toEqual([]);
    });
  });

  it('errors cross tabs with their code and class; what cannot be cloned is INVALID_VALUE; storage and setReplicator are UNSUPPORTED', async () => {
    await withContext(suite.h, async (context) => {
      const a = await openTab(context, suite.h.origin);
      const b = await openTab(context, suite.h.origin);
      const path = freshPath();
      await join(a.page, path);
      expect((await join(b.page, path)).owning).toBe(false);
      const result = await b.page.evaluate(async () => {
        const k = globalThis.koru;
        const db = globalThis.db;
        const caught = async (f) => {
          try {
            await f();
            return 'resolved';
          } catch (e) {
            return { code: e.code, name: e.name, koru: e instanceof k.KoruError, details: e.details };
          }
        };
        const v1 = await db.put('notes', 'x', { by: 'b' });
        return {
          missing: await caught(() => db.get('notes', 'nope')),
          missingClass: await db.get('notes', 'nope').catch((e) => e instanceof k.KeyNotFoundError),
          conflict: await caught(() => db.put('notes', 'x', { by: 'b' }, { ifVersion: '0'.repeat(64) })),
          conflictClass: await db.put('notes', 'x', {}, { ifVersion: '0'.repeat(64) }).catch((e) => e instanceof k.VersionConflictError),
          badValue: await caught(() => db.put('notes', 'y', { when: new Date() })),
          function: await caught(() => db.put('notes', 'y', { f: () => 1 })),
          badNamespace: await caught(() => db.put('_bad', 'y', 1)),
          badQuery: await caught(() => db.query('notes', { filter: { by: { $nope: 1 } } })),
          badQueryClass: await db.query('notes', { filter: { by: { $nope: 1 } } }).catch((e) => e instanceof k.InvalidQueryError),
          noView: await caught(() => db.queryView('none')),
          badSpec: (() => {
            try {
              db.subscribe({ namespace: 'notes', nonsense: 1 }, () => undefined);
              return 'subscribed';
            } catch (e) {
              return e.code;
            }
          })(),
          storage: (() => {
            try {
              return db.storage;
            } catch (e) {
              return e.code;
            }
          })(),
          replicator: (() => {
            try {
              db.setReplicator(undefined);
              return 'set';
            } catch (e) {
              return e.code;
            }
          })(),
          unchanged: (await db.getVersion('notes', 'x')).versionId === v1.versionId,
        };
      });
      expect(result).toEqual({
        missing: { code: 'KEY_NOT_FOUND', name: 'KeyNotFoundError', koru: true, details: { namespace: 'notes', key: 'nope' } },
        missingClass: true,
        conflict: expect.objectContaining({ code: 'VERSION_CONFLICT', name: 'VersionConflictError', koru: true }),
        conflictClass: true,
        badValue: expect.objectContaining({ code: 'INVALID_VALUE', name: 'InvalidValueError' }),
        function: expect.objectContaining({ code: 'INVALID_VALUE', name: 'InvalidValueError' }),
        badNamespace: expect.objectContaining({ code: 'INVALID_NAMESPACE', name: 'InvalidNamespaceError' }),
        badQuery: expect.objectContaining({ code: 'INVALID_QUERY', name: 'InvalidQueryError' }),
        badQueryClass: true,
        noView: expect.objectContaining({ code: 'VIEW_NOT_FOUND', name: 'ViewNotFoundError', details: { name: 'none' } }),
        badSpec: 'INVALID_ARGUMENT',
        storage: 'UNSUPPORTED',
        replicator: 'UNSUPPORTED',
        unchanged: true,
      });
      await b.page.evaluate(() => globalThis.db.close());
      await a.page.evaluate(() => globalThis.db.close());
      expect(a.errors).toEqual([]);
      expect(b.errors).toEqual([]);
    });
  });
  it('a tab that goes away without closing: the owner ends the feeds it ran for that tab', async () => {
    await withContext(suite.h, async (context) => {
      const a = await openTab(context, suite.h.origin);
      const b = await openTab(context, suite.h.origin);
      const c = await openTab(context, suite.h.origin);
      const path = freshPath();
      await join(a.page, path);
      await join(b.page, path); // subscribed: its events cross the channel
      // C joins without a subscription and listens to the channel itself.
      await c.page.evaluate(async (p) => {
        globalThis.db = await globalThis.koru.KoruDelta.start({ path: p });
        globalThis.events = 0;
        globalThis.tap = new BroadcastChannel(`koru:${p}`);
        globalThis.tap.onmessage = (e) => {
          if (e.data.t === 'event') globalThis.events++;
        };
      }, path);
      const relayed = async () => {
        const before = await c.page.evaluate(() => globalThis.events);
        await a.page.evaluate(() => globalThis.db.put('notes', `k${Math.random()}`, { by: 'a' }));
        await c.page.evaluate(() => new Promise((r) => setTimeout(r, 100)));
        return (await c.page.evaluate(() => globalThis.events)) - before;
      };
      expect(await relayed()).toBe(1);
      await b.page.close({ runBeforeUnload: false });
      await expect.poll(relayed, { timeout: 20_000, interval: 50 }).toBe(0);
      // The owner's own subscription goes on.
      const seen = await a.page.evaluate(() => globalThis.seen.length);
      expect(seen).toBeGreaterThanOrEqual(2);
      await c.page.evaluate(() => globalThis.db.close());
      await a.page.evaluate(() => globalThis.db.close());
      expect([...a.errors, ...c.errors]).toEqual([]);
    });
  });
  it('the worker option: a URL string or a function creating the Worker; a wrong URL fails with IO_ERROR naming the option', async () => {
    await withContext(suite.h, async (context) => {
      const { page, errors } = await openTab(context, suite.h.origin);
      const result = await page.evaluate(async (base) => {
        const { KoruDelta } = globalThis.koru;
        const viaUrl = await KoruDelta.start({ path: `${base}-url`, worker: '/assets/koru-worker.js' });
        await viaUrl.put('w', 'k', 1);
        const url = { owning: viaUrl.owning, value: await viaUrl.get('w', 'k') };
        await viaUrl.close();
        let made = 0;
        const viaFactory = await KoruDelta.start({
          path: `${base}-factory`,
          worker: () => {
            made++;
            return new Worker(new URL('/assets/koru-worker.js', location.href), { type: 'module' });
          },
        });
        await viaFactory.put('w', 'k', 2);
        const factory = { made, value: await viaFactory.get('w', 'k') };
        await viaFactory.close();
        let wrong;
        try {
          await KoruDelta.start({ path: `${base}-wrong`, worker: '/assets/missing.js' });
          wrong = 'opened';
        } catch (e) {
          wrong = { code: e.code, mentionsOption: /`worker` start option/.test(e.message) };
        }
        let bad;
        try {
          await KoruDelta.start({ path: `${base}-bad`, worker: 42 });
        } catch (e) {
          bad = e.code;
        }
        return { url, factory, wrong, bad };
      }, freshPath());
      expect(result).toEqual({
        url: { owning: true, value: 1 },
        factory: { made: 1, value: 2 },
        wrong: { code: 'IO_ERROR', mentionsOption: true },
        bad: 'INVALID_ARGUMENT',
      });
      expect(errors).toEqual([]);
    });
  });
});
