// The browser build of @koru/delta, bundled as a browser bundler would (esbuild,
// platform "browser": the package's `node` condition is not taken), served from
// 127.0.0.1 and run in a real headless Chromium. Proves the main entries carry no
// Node API and that ids computed in the browser (pure-JS SHA-256) equal Node's.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemTool, tempDir } from '@koru/vitest-preset/helpers';
import { startServer } from '@koru/server';

const CHROMIUM = process.env.KORU_CHROMIUM ?? '/usr/bin/chromium';
const chromiumTool = systemTool({ name: `Chromium (${CHROMIUM})`, present: () => existsSync(CHROMIUM), apt: 'chromium' });
const available = chromiumTool.available;
if (!available) console.log(`[browser-test] skipped: ${chromiumTool.reason}`);

let tmp;
let server;
let browser;
let origin;
let bundle;

beforeAll(async () => {
  if (!available) return;
  tmp = tempDir('koru-browser-');
  mkdirSync(join(tmp.dir, 'src'));
  writeFileSync(
    join(tmp.dir, 'src', 'entry.mjs'),
    "import * as koru from '@koru/delta';\nimport * as client from '@koru/client';\nglobalThis.koru = koru;\nglobalThis.koruClient = client;\n",
  );
  await build({
    entryPoints: [join(tmp.dir, 'src', 'entry.mjs')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    outfile: join(tmp.dir, 'koru.js'),
    nodePaths: [join(import.meta.dirname, '..', 'node_modules')],
    logLevel: 'silent',
  });
  bundle = readFileSync(join(tmp.dir, 'koru.js'), 'utf8');
  const page = '<!doctype html><meta charset="utf-8"><script type="module" src="/koru.js"></script>';
  server = createServer((req, res) => {
    if (req.url === '/koru.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(page);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${server.address().port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
  tmp?.cleanup();
});

/** A page with the bundle loaded (`globalThis.koru`), collecting uncaught page errors. */
async function openPage() {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(origin);
  await page.waitForFunction(() => globalThis.koru !== undefined);
  return { page, errors };
}

describe.skipIf(!available)('@koru/delta in Chromium', () => {
  it('bundles for the browser without any Node module', () => {
    expect(bundle.length).toBeGreaterThan(1000);
    expect(bundle).not.toMatch(/from\s*["']node:|require\(["']node:|\bprocess\.(env|argv|exit)\b/);
  });

  it('writes, reads history, time-travels and diffs, with the same ids as Node', async () => {
    const { page, errors } = await openPage();
    const result = await page.evaluate(async () => {
      const { KoruDelta } = globalThis.koru;
      const db = await KoruDelta.start();
      const v1 = await db.put('users', 'alice', { name: 'Alice', n: 1 });
      await new Promise((r) => setTimeout(r, 5));
      await db.put('users', 'alice', { n: 2, name: 'Alice' });
      const value = await db.get('users', 'alice');
      const history = await db.history('users', 'alice');
      const at = await db.getAt('users', 'alice', v1.timestamp);
      const diff = await db.diff('users', 'alice');
      // Page scripts are sloppy mode, where writing to a frozen object fails silently.
      const frozen = Object.isFrozen(value);
      value.n = 99;
      let durable = null;
      try {
        // The browser build opens a path as a database shared by the origin's tabs, in a
        // worker (tabs*.test.mjs): this server does not serve browser-worker.js, so the
        // worker cannot start.
        await KoruDelta.start({ path: 'data' });
      } catch (e) {
        durable = `${e.code} ${/database worker/.test(e.message)}`;
      }
      let invalid = null;
      try {
        await db.put('users', 'bob', { when: new Date() });
      } catch (e) {
        invalid = e.code;
      }
      const report = await db.verify();
      return {
        value,
        versions: history.length,
        chained: history[1].previousVersion === history[0].versionId,
        at: at.value,
        changes: diff.changes,
        frozen,
        durable,
        invalid,
        valueId: v1.valueId,
        verified: report.ok,
        stillN: (await db.get('users', 'alice')).n,
      };
    });
    expect(errors).toEqual([]);
    expect(result).toEqual({
      value: { n: 2, name: 'Alice' },
      versions: 2,
      chained: true,
      at: { n: 1, name: 'Alice' },
      changes: [{ kind: 'changed', path: '/n', before: 1, after: 2 }],
      frozen: true,
      durable: 'IO_ERROR true',
      invalid: 'INVALID_VALUE',
      valueId: createHash('sha256').update('{"n":1,"name":"Alice"}').digest('hex'),
      verified: true,
      stillN: 2,
    });
    await page.close();
  });
  it('queries through a secondary index, keeps a view current and delivers the change feed', async () => {
    const { page, errors } = await openPage();
    const result = await page.evaluate(async () => {
      const { KoruDelta, Query, Filter, Agg } = globalThis.koru;
      const db = await KoruDelta.start();
      const items = [];
      for (let i = 0; i < 200; i++) items.push({ namespace: 'users', key: `u${i}`, value: { age: i % 50, city: i % 2 ? 'Oslo' : 'Rome' } });
      await db.putMany(items);
      const events = [];
      const sub = db.subscribe({ namespace: 'users', types: ['update'] }, (e) => events.push(`${e.seq}:${e.key}`));
      await db.createIndex('users', 'age');
      await db.createView({ name: 'oslo', namespace: 'users', query: { filter: { city: 'Oslo' } }, aggregate: Agg.count(), autoRefresh: true });
      const q = await db.query('users', Query.new().filter(Filter.eq('age', 7)).sort('city', 'desc'));
      await db.put('users', 'u0', { age: 7, city: 'Oslo' });
      const after = await db.query('users', { filter: { age: 7 } });
      const view = await db.queryView('oslo');
      await new Promise((r) => setTimeout(r, 10));
      sub.unsubscribe();
      return {
        strategy: q.explain.strategy,
        keys: q.rows.map((r) => r.key),
        after: after.rows.map((r) => r.key),
        oslo: view.aggregate,
        events,
      };
    });
    expect(errors).toEqual([]);
    expect(result).toEqual({
      strategy: 'index',
      // Rows without a sort come in key order (UTF-8 bytes).
      keys: ['u107', 'u157', 'u57', 'u7'],
      after: ['u0', 'u107', 'u157', 'u57', 'u7'],
      oslo: 101,
      events: ['203:u0'],
    });
    await page.close();
  });
  it('@koru/client in the page talks to a real server: calls, typed errors, a live subscription', async () => {
    const data = tempDir('koru-browser-server-');
    // The page is on another origin (another port): it must be allowed.
    const koruServer = await startServer({ path: data.dir, port: 0, log: 'silent', token: 'browser-token', allowOrigins: [origin] });
    try {
      const { page, errors } = await openPage();
      const result = await page.evaluate(
        async ({ url }) => {
          const { KoruClient } = globalThis.koruClient;
          let unauthorized = null;
          try {
            await KoruClient.connect(url, { token: 'wrong', reconnect: false });
          } catch (e) {
            unauthorized = e.code;
          }
          const db = await KoruClient.connect(url, { token: 'browser-token' });
          const v1 = await db.put('users', 'alice', { n: 1 });
          const events = [];
          const sub = db.subscribe({ namespace: 'users', since: 0 }, (e) => events.push(`${e.seq}:${e.changeType}:${e.key}`));
          await db.put('users', 'alice', { n: 2 });
          let missing = null;
          try {
            await db.get('users', 'nobody');
          } catch (e) {
            missing = e.code;
          }
          for (let i = 0; i < 100 && events.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
          sub.unsubscribe();
          const q = await db.query('users', { filter: { n: { $gte: 2 } } });
          const history = await db.history('users', 'alice');
          await db.close();
          return { unauthorized, missing, total: q.total, chained: history[1].previousVersion === v1.versionId, events };
        },
        { url: koruServer.url },
      );
      expect(errors).toEqual([]);
      expect(result).toMatchObject({ unauthorized: 'UNAUTHORIZED', missing: 'KEY_NOT_FOUND', total: 1, chained: true });
      expect(result.events.slice(0, 2)).toEqual(['1:insert:alice', '2:update:alice']);
      await page.close();
    } finally {
      await koruServer.close();
      data.cleanup();
    }
  });
});
