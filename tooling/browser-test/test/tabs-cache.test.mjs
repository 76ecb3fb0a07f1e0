// The tabs' read cache (packages/delta/src/browser/tab-cache.ts): `get`, `getVersion`
// and `contains` answer in the tab once it read the key (the same frozen object again:
// that is how these tests see a hit), and are never older than what the tab has been
// told: its own writes, the change events of other tabs' writes, a sync's pulls, a purge;
// a new owner's stream starts with an empty cache; a read racing writes never leaves an
// old version behind.
import { startServer } from '@koru/server';
import { tempDir } from '@koru/vitest-preset/helpers';
import { describe, expect, it } from 'vitest';
import { available, openTab, until, useHarness, withContext } from './tabs-harness.mjs';

const suite = useHarness('cache');
const { freshPath } = suite;

/**
 * Opens the database at `path` as `globalThis.db`. Every change event of namespace `c`
 * is recorded in `globalThis.events` as `[key, n of the event's value, n that a get of
 * the key returned right in the handler]` (null for a deletion / no value).
 */
function joinReading(page, path) {
  return page.evaluate(async (p) => {
    const db = await globalThis.koru.KoruDelta.start({ path: p });
    globalThis.db = db;
    globalThis.events = [];
    globalThis.sub = db.subscribe({ namespace: 'c' }, async (e) => {
      const read = await db.get('c', e.key).then(
        (v) => v.n,
        (err) => err.code,
      );
      globalThis.events.push([e.key, e.value?.n ?? null, read]);
    });
    return db.owning;
  }, path);
}

/** In the page: whether two reads of `c/key` hand out the same object (a cache hit), and its `n`. */
function cached(page, key) {
  return page.evaluate(async (k) => {
    const a = await globalThis.db.getVersion('c', k);
    const b = await globalThis.db.getVersion('c', k);
    const v = await globalThis.db.get('c', k);
    return { same: a === b && v === a.value, frozen: Object.isFrozen(a) && Object.isFrozen(a.value), n: v.n };
  }, key);
}

const close = (t) => t.page.evaluate(() => globalThis.db.close());

describe.skipIf(!available)('the tabs\' read cache (Chromium)', () => {
  it('own writes are read back at once in the owner and in a forwarding tab: put, putMany, delete, purge; and hits hand out the same frozen version', async () => {
    await withContext(suite.h, async (context) => {
      const a = await openTab(context, suite.h.origin);
      const b = await openTab(context, suite.h.origin);
      const path = freshPath();
      expect(await joinReading(a.page, path)).toBe(true);
      expect(await joinReading(b.page, path)).toBe(false);
      for (const t of [a, b]) {
        const result = await t.page.evaluate(async () => {
          const db = globalThis.db;
          const code = (p) => p.then(() => 'resolved', (e) => e.code);
          const me = db.owning ? 'a' : 'b';
          const k = `own-${me}`;
          const out = {};
          out.missing = await code(db.get('c', k));
          out.missingAgain = await code(db.getVersion('c', k));
          out.absent = await db.contains('c', k);
          await db.put('c', k, { n: 1 });
          const v1 = await db.getVersion('c', k);
          out.hit = v1 === (await db.getVersion('c', k)) && Object.isFrozen(v1.value);
          out.present = await db.contains('c', k);
          await db.put('c', k, { n: 2 });
          out.afterPut = (await db.get('c', k)).n;
          await db.putMany([{ namespace: 'c', key: k, value: { n: 3 } }]);
          out.afterPutMany = (await db.get('c', k)).n;
          await db.importVersions([]);
          await db.delete('c', k);
          out.afterDelete = await code(db.get('c', k));
          out.containsAfterDelete = await db.contains('c', k);
          await db.put('c', k, { n: 4 });
          out.afterRewrite = (await db.getVersion('c', k)).value.n;
          await db.purge('c', k);
          out.afterPurge = await code(db.getVersion('c', k));
          out.containsAfterPurge = await db.contains('c', k);
          // Errors other than a missing key are the worker's, every time.
          out.badKey = await code(db.get('c', ''));
          out.badNamespace = await code(db.contains('_koru', 'x'));
          return out;
        });
        expect(result).toEqual({
          missing: 'KEY_NOT_FOUND',
          missingAgain: 'KEY_NOT_FOUND',
          absent: false,
          hit: true,
          present: true,
          afterPut: 2,
          afterPutMany: 3,
          afterDelete: 'KEY_NOT_FOUND',
          containsAfterDelete: false,
          afterRewrite: 4,
          afterPurge: 'KEY_NOT_FOUND',
          containsAfterPurge: false,
          badKey: 'INVALID_KEY',
          badNamespace: 'INVALID_NAMESPACE',
        });
      }
      await close(b);
      await close(a);
      expect([...a.errors, ...b.errors]).toEqual([]);
    });
  });

  it('another tab\'s write: a get in the change event\'s handler reads it, in every tab, and no tab reads an older value after a newer one', async () => {
    await withContext(suite.h, async (context) => {
      const tabs = [await openTab(context, suite.h.origin), await openTab(context, suite.h.origin), await openTab(context, suite.h.origin)];
      const path = freshPath();
      for (const t of tabs) await joinReading(t.page, path);
      await tabs[0].page.evaluate(() => globalThis.db.put('c', 'k', { n: 0 }));
      // Every tab holds `k` (a hit) before the others write it.
      for (const t of tabs) expect(await cached(t.page, 'k')).toEqual({ same: true, frozen: true, n: 0 });
      // The third tab reads in a loop meanwhile: never backwards.
      await tabs[2].page.evaluate(() => {
        globalThis.reading = true;
        globalThis.backwards = [];
        globalThis.reads = 0;
        globalThis.loop = (async () => {
          let last = -1;
          while (globalThis.reading) {
            const v = await globalThis.db.get('c', 'k');
            globalThis.reads++;
            if (v.n < last) globalThis.backwards.push([last, v.n]);
            last = v.n;
            if (globalThis.reads % 64 === 0) await new Promise((r) => setTimeout(r, 0));
          }
        })();
      });
      const rounds = 30;
      for (let i = 1; i <= rounds; i++) {
        // The owner and a forwarding tab take turns.
        await tabs[i % 2].page.evaluate((i) => globalThis.db.put('c', 'k', { n: i }), i);
      }
      for (const t of tabs) {
        const events = await until(t.page, (r) => globalThis.events.length >= r && globalThis.events, rounds + 1);
        const ns = events.map((e) => e[1]);
        expect(ns).toEqual(Array.from({ length: rounds + 1 }, (_, i) => i));
        // Read in the handler: never older than the event.
        for (const [, was, read] of events) expect(read).toBeGreaterThanOrEqual(was);
        expect((await cached(t.page, 'k')).n).toBe(rounds);
      }
      const loop = await tabs[2].page.evaluate(async () => {
        globalThis.reading = false;
        await globalThis.loop;
        return { backwards: globalThis.backwards, reads: globalThis.reads };
      });
      expect(loop.backwards).toEqual([]);
      expect(loop.reads).toBeGreaterThan(rounds);
      for (const t of tabs.slice(1)) await close(t);
      await close(tabs[0]);
      expect(tabs.flatMap((t) => t.errors)).toEqual([]);
    });
  });

  it('a write pulled from a server by the sync reaches every tab\'s cache', async () => {
    const data = tempDir('koru-cache-server-');
    const koru = await startServer({ path: data.dir, port: 0, log: 'silent', allowOrigins: [suite.h.origin] });
    const context = await suite.h.browser.newContext();
    try {
      const a = await openTab(context, suite.h.origin);
      const b = await openTab(context, suite.h.origin);
      const path = freshPath();
      expect(await joinReading(a.page, path)).toBe(true);
      await joinReading(b.page, path);
      await koru.db.put('c', 'remote', { n: 1 });
      await a.page.evaluate(async (url) => {
        const handle = await globalThis.db.sync(url);
        await handle.synced();
      }, koru.url);
      for (const t of [a, b]) {
        await until(t.page, () => globalThis.events.some((e) => e[0] === 'remote'));
        expect(await cached(t.page, 'remote')).toEqual({ same: true, frozen: true, n: 1 });
      }
      for (let i = 2; i <= 6; i++) {
        await koru.db.put('c', 'remote', { n: i });
        for (const t of [a, b]) {
          const events = await until(t.page, (i) => {
            const mine = globalThis.events.filter((e) => e[0] === 'remote');
            return mine.length >= i && mine;
          }, i);
          expect(events.at(-1)).toEqual(['remote', i, i]);
          expect((await cached(t.page, 'remote')).n).toBe(i);
        }
      }
      await close(b);
      await close(a);
      expect([...a.errors, ...b.errors]).toEqual([]);
    } finally {
      await context.close();
      await koru.close();
      data.cleanup();
    }
  });

  it('another tab\'s delete and purge: the key reads as missing once the change event arrived', async () => {
    await withContext(suite.h, async (context) => {
      const a = await openTab(context, suite.h.origin);
      const b = await openTab(context, suite.h.origin);
      const path = freshPath();
      await joinReading(a.page, path);
      await joinReading(b.page, path);
      await a.page.evaluate(async () => {
        await globalThis.db.put('c', 'gone', { n: 1 });
        await globalThis.db.put('c', 'purged', { n: 1 });
      });
      for (const t of [a, b]) {
        expect(await cached(t.page, 'gone')).toMatchObject({ same: true, n: 1 });
        expect(await cached(t.page, 'purged')).toMatchObject({ same: true, n: 1 });
      }
      await b.page.evaluate(() => globalThis.db.delete('c', 'gone'));
      await a.page.evaluate(() => globalThis.db.purge('c', 'purged'));
      for (const t of [a, b]) {
        const events = await until(t.page, () => globalThis.events.length >= 4 && globalThis.events);
        expect(events.slice(2)).toEqual([
          ['gone', null, 'KEY_NOT_FOUND'],
          ['purged', null, 'KEY_NOT_FOUND'],
        ]);
        expect(
          await t.page.evaluate(async () => {
            const db = globalThis.db;
            return [await db.contains('c', 'gone'), await db.contains('c', 'purged'), await db.getVersion('c', 'purged').catch((e) => e.code)];
          }),
        ).toEqual([false, false, 'KEY_NOT_FOUND']);
      }
      await close(b);
      await close(a);
      expect([...a.errors, ...b.errors]).toEqual([]);
    });
  });

  it('a new owner: the cache starts over (clean close and a killed owner tab mid-writes), and reads agree with the new owner\'s store', async () => {
    for (const how of ['close', 'kill']) {
      await withContext(suite.h, async (context) => {
        const a = await openTab(context, suite.h.origin);
        const b = await openTab(context, suite.h.origin);
        const path = freshPath();
        expect(await joinReading(a.page, path)).toBe(true);
        await joinReading(b.page, path);
        await a.page.evaluate(() => globalThis.db.put('c', 'k', { n: 0 }));
        // Once its handler's read is done, B holds `k`: `before` is what its cache holds.
        await until(b.page, () => globalThis.events.length === 1);
        const held = await b.page.evaluate(async () => {
          globalThis.before = await globalThis.db.getVersion('c', 'k');
          return globalThis.before === (await globalThis.db.getVersion('c', 'k'));
        });
        expect(held).toBe(true);
        if (how === 'close') await close(a);
        else {
          // The owner writes `k` without pause and dies in the middle.
          await a.page.evaluate(() => {
            globalThis.loop = (async () => {
              for (let i = 1; ; i++) await globalThis.db.put('c', 'k', { n: i });
            })();
          });
          await until(a.page, () => globalThis.db.seq > 20);
          await a.page.close({ runBeforeUnload: false });
        }
        await until(b.page, () => globalThis.db.owning);
        const after = await b.page.evaluate(async () => {
          const db = globalThis.db;
          const v = await db.getVersion('c', 'k');
          const history = await db.history('c', 'k');
          return { fresh: v !== globalThis.before, head: v.versionId === history.at(-1).versionId, again: v === (await db.getVersion('c', 'k')) };
        });
        expect(after).toEqual({ fresh: true, head: true, again: true });
        await close(b);
        expect(b.errors).toEqual([]);
      });
    }
  });

  it('reads racing writes never leave an old version cached: a read sent in the same turn as the write, and reads looping while another tab writes', async () => {
    await withContext(suite.h, async (context) => {
      const a = await openTab(context, suite.h.origin);
      const b = await openTab(context, suite.h.origin);
      const path = freshPath();
      await joinReading(a.page, path);
      await joinReading(b.page, path);
      // Same turn: the read crosses behind the write, in one batch; its answer (the
      // value before or after the write) must not outlive the write.
      for (const t of [a, b]) {
        const stale = await t.page.evaluate(async () => {
          const db = globalThis.db;
          const k = db.owning ? 'turn-a' : 'turn-b';
          const out = [];
          await db.put('c', k, { n: 0 });
          await db.get('c', k);
          for (let i = 1; i <= 200; i++) {
            const w = db.put('c', k, { n: i });
            const r = db.get('c', k);
            await Promise.all([w, r]);
            const after = (await db.get('c', k)).n;
            if (after !== i) out.push([i, after]);
          }
          return out;
        });
        expect(stale).toEqual([]);
      }
      // Across tabs: B reads `x` without pause while A writes it 300 times.
      await b.page.evaluate(() => {
        globalThis.reading = true;
        globalThis.backwards = [];
        globalThis.loop = (async () => {
          let last = -1;
          let reads = 0;
          while (globalThis.reading) {
            const v = await globalThis.db.get('c', 'x').catch(() => ({ n: -1 }));
            if (v.n < last) globalThis.backwards.push([last, v.n]);
            last = v.n;
            if (++reads % 16 === 0) await new Promise((r) => setTimeout(r, 0));
          }
        })();
      });
      await a.page.evaluate(async () => {
        for (let i = 0; i < 300; i++) await globalThis.db.put('c', 'x', { n: i });
      });
      await until(b.page, () => globalThis.events.filter((e) => e[0] === 'x').length >= 300);
      const end = await b.page.evaluate(async () => {
        globalThis.reading = false;
        await globalThis.loop;
        return { backwards: globalThis.backwards, n: (await globalThis.db.get('c', 'x')).n };
      });
      expect(end).toEqual({ backwards: [], n: 299 });
      await close(b);
      await close(a);
      expect([...a.errors, ...b.errors]).toEqual([]);
    });
  });
});
