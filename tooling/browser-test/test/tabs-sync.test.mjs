// Local-first sync in the browser: a persistent database shared by tabs, kept in step with
// a real `@koru/server` over its WebSocket protocol. The sync runs in the owning tab's
// database worker and moves with the database when another tab takes over; two browsers
// (two contexts: two separate origins' storage) edit offline with the server, and all
// three converge on one state root (every namespace: the browsers sync them all) with
// every version everywhere.
import { createServer, connect } from 'node:net';
import { startServer } from '@koru/server';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { available, openTab, startHarness, until, withContext } from './tabs-harness.mjs';

let h;
let data;
let koru;

beforeAll(async () => {
  if (!available) return;
  h = await startHarness();
  data = tempDir('koru-sync-server-');
  koru = await startServer({ path: data.dir, port: 0, log: 'silent', allowOrigins: [h.origin] });
});

afterAll(async () => {
  await koru?.close();
  await h?.close();
  data?.cleanup();
});

/** A TCP proxy to the server that can be cut (every connection dropped, new ones refused) and restored. */
async function proxy(port) {
  const sockets = new Set();
  let open = true;
  const server = createServer((client) => {
    if (!open) return client.destroy();
    const upstream = connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    cut() {
      open = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    restore() {
      open = true;
    },
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(resolve);
    }),
  };
}

let n = 0;
const freshPath = () => `sync-${process.pid}-${++n}`;

/** Opens the database at `path` as `globalThis.db` and records every `notes` change it sees. */
function join(page, path) {
  return page.evaluate(async (p) => {
    globalThis.db = await globalThis.koru.KoruDelta.start({ path: p });
    globalThis.seen = new Map();
    globalThis.db.subscribe({ namespace: 'notes' }, (e) => {
      if (!globalThis.seen.has(e.key)) globalThis.seen.set(e.key, performance.now());
    });
    return globalThis.db.owning;
  }, path);
}

async function serverHas(key, value) {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await koru.db.get('notes', key)).by === value) return true;
    } catch {
      // not there yet
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

describe.skipIf(!available)('sync with a server, in Chromium', () => {
  it('runs in the owner\'s worker for every tab, both ways, and goes on in the tab that takes over', async () => {
    await withContext(h, async (context) => {
      const a = await openTab(context, h.origin);
      const b = await openTab(context, h.origin);
      const path = freshPath();
      expect(await join(a.page, path)).toBe(true);
      expect(await join(b.page, path)).toBe(false);

      const started = await a.page.evaluate(async (url) => {
        globalThis.handle = await globalThis.db.sync(url);
        await globalThis.handle.synced();
        return globalThis.db.syncStatus;
      }, koru.url);
      expect(started).toMatchObject({ online: true, pending: 0 });
      // Every tab sees the database's sync. The same sync asked for again (every tab of an
      // app does it when it loads) joins it; a sync with other settings, from any tab, is refused.
      expect(await until(b.page, () => globalThis.db.syncStatus?.online === true)).toBe(true);
      expect(await b.page.evaluate(async (url) => (await globalThis.db.sync(url)).status.online, koru.url)).toBe(true);
      expect(await b.page.evaluate((url) => globalThis.db.sync(url, { token: undefined }).then(() => 'joined', (e) => e.code), koru.url)).toBe('joined');
      expect(await b.page.evaluate((url) => globalThis.db.sync(url, { namespaces: ['other'] }).then(() => 'started', (e) => e.code), koru.url)).toBe('INVALID_ARGUMENT');
      expect(await b.page.evaluate((url) => globalThis.db.sync(url.replace('127.0.0.1', 'localhost')).then(() => 'started', (e) => e.code), koru.url)).toBe('INVALID_ARGUMENT');
      expect(await b.page.evaluate((url) => globalThis.db.sync(url, { WebSocket: class {} }).then(() => 'started', (e) => e.code), koru.url)).toBe('UNSUPPORTED');

      // A tab's write reaches the server; the server's reaches both tabs.
      await b.page.evaluate(() => globalThis.db.put('notes', 'from-b', { by: 'b' }));
      expect(await serverHas('from-b', 'b')).toBe(true);
      await koru.db.put('notes', 'from-server', { by: 'server' });
      for (const t of [a, b]) expect(await until(t.page, () => globalThis.seen.has('from-server'))).toBe(true);

      // The owner dies: the other tab takes over and the sync goes on there, both ways.
      await a.page.close({ runBeforeUnload: false });
      expect(await until(b.page, () => globalThis.db.owning && globalThis.db.syncStatus?.online === true)).toBe(true);
      await koru.db.put('notes', 'after-takeover', { by: 'server' });
      expect(await until(b.page, () => globalThis.seen.has('after-takeover'))).toBe(true);
      await b.page.evaluate(() => globalThis.db.put('notes', 'b-owning', { by: 'b' }));
      expect(await serverHas('b-owning', 'b')).toBe(true);
      expect(await b.page.evaluate(() => globalThis.db.stateRoot())).toBe(await koru.db.stateRoot());
      expect(b.errors).toEqual([]);
    });
  });

  it('tabs that load together, and a reloaded tab, each ask for the same sync and get it', async () => {
    await withContext(h, async (context) => {
      const a = await openTab(context, h.origin);
      const b = await openTab(context, h.origin);
      const path = freshPath();
      // As an app's pages do when they load: open the database, then ask for its sync.
      const load = (t) => t.page.evaluate(async ([p, url]) => {
        globalThis.db = await globalThis.koru.KoruDelta.start({ path: p });
        globalThis.link = await globalThis.db.sync(url, { namespaces: ['notes'] });
        return 'syncing';
      }, [path, koru.url]);
      expect(await Promise.all([load(a), load(b)])).toEqual(['syncing', 'syncing']);
      const owner = (await a.page.evaluate(() => globalThis.db.owning)) ? a : b;
      const other = owner === a ? b : a;
      // The owner reloads: the other tab takes the database and its sync over; the
      // reloaded page asks for the sync again and joins it.
      await owner.page.reload();
      await owner.page.waitForFunction(() => globalThis.koru !== undefined);
      expect(await load(owner)).toBe('syncing');
      expect(await until(other.page, () => globalThis.db.owning && globalThis.db.syncStatus?.online === true)).toBe(true);
      expect(await until(owner.page, () => globalThis.link.status.online === true)).toBe(true);
      await owner.page.evaluate(() => globalThis.db.put('notes', 'after-reload', { by: 'reloaded' }));
      expect(await serverHas('after-reload', 'reloaded')).toBe(true);
      expect([...a.errors, ...b.errors]).toEqual([]);
    });
  });

  it('two browsers and the server edit offline, then converge on one state root with every version', async () => {
    const px = await proxy(koru.port);
    const py = await proxy(koru.port);
    const cx = await h.browser.newContext();
    const cy = await h.browser.newContext();
    try {
      const x = await openTab(cx, h.origin);
      const y = await openTab(cy, h.origin);
      const path = freshPath();
      await join(x.page, path);
      await join(y.page, path);
      const startSync = (page, url) =>
        page.evaluate(async (u) => {
          globalThis.handle = await globalThis.db.sync(u);
          await globalThis.handle.synced();
        }, url);
      await startSync(x.page, px.url);
      await startSync(y.page, py.url);
      await koru.db.put('offline', 'shared', { by: 'server', n: 0 });
      for (const t of [x, y]) {
        const pulled = await t.page.evaluate(async () => {
          for (let i = 0; i < 500; i++) {
            if (await globalThis.db.get('offline', 'shared').then((v) => v.n === 0, () => false)) return true;
            await new Promise((r) => setTimeout(r, 20));
          }
          return false;
        });
        expect(pulled).toBe(true);
      }

      px.cut();
      py.cut();
      for (const t of [x, y]) expect(await until(t.page, () => globalThis.db.syncStatus?.online === false)).toBe(true);
      // Everyone edits the same key and keys of their own while apart.
      await x.page.evaluate(async () => {
        for (let i = 1; i <= 3; i++) await globalThis.db.put('offline', 'shared', { by: 'x', n: i });
        await globalThis.db.put('offline', 'only-x', { by: 'x' });
        await globalThis.db.delete('offline', 'only-x');
      });
      await y.page.evaluate(async () => {
        for (let i = 1; i <= 2; i++) await globalThis.db.put('offline', 'shared', { by: 'y', n: i });
        await globalThis.db.put('offline', 'only-y', { by: 'y' });
      });
      await koru.db.put('offline', 'shared', { by: 'server', n: 9 });
      await koru.db.put('offline', 'only-server', { by: 'server' });
      expect(await x.page.evaluate(() => globalThis.db.syncStatus.pending)).toBe(5);
      expect(await y.page.evaluate(() => globalThis.db.syncStatus.pending)).toBe(3);

      px.restore();
      py.restore();
      const root = async () => koru.db.stateRoot();
      let converged = false;
      for (let i = 0; i < 300 && !converged; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const [rx, ry, rs] = await Promise.all([x.page.evaluate(() => globalThis.db.stateRoot()), y.page.evaluate(() => globalThis.db.stateRoot()), root()]);
        converged = rx === rs && ry === rs;
      }
      expect(converged).toBe(true);
      // Every version of the key on every side (1 + 3 + 2 + 1), the same ids, the same head.
      const idsOf = (versions) => versions.map((v) => v.versionId).sort();
      const serverHistory = await koru.db.history('offline', 'shared');
      expect(serverHistory).toHaveLength(7);
      for (const t of [x, y]) {
        const seen = await t.page.evaluate(async () => ({
          history: (await globalThis.db.history('offline', 'shared')).map((v) => ({ versionId: v.versionId })),
          head: (await globalThis.db.getVersion('offline', 'shared')).versionId,
          status: globalThis.db.syncStatus,
          verify: (await globalThis.db.verify()).ok,
        }));
        expect(idsOf(seen.history)).toEqual(idsOf(serverHistory));
        expect(seen.head).toBe((await koru.db.getVersion('offline', 'shared')).versionId);
        expect(seen.status).toMatchObject({ online: true, pending: 0 });
        expect(seen.verify).toBe(true);
      }
      expect(x.errors).toEqual([]);
      expect(y.errors).toEqual([]);
    } finally {
      await cx.close();
      await cy.close();
      await px.close();
      await py.close();
    }
  });
});
