// Shared set-up of the shared-database tests (not a test file itself): the page bundle
// (esbuild, platform browser: the `browser` export condition of @koru/delta), served
// from 127.0.0.1 next to the package's worker file, at the URL the bundle's
// `new URL('./browser-worker.js', import.meta.url)` resolves to; and a headless Chromium.
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { systemTool, tempDir } from '@koru/vitest-preset/helpers';
import { afterAll, beforeAll } from 'vitest';

const CHROMIUM = process.env.KORU_CHROMIUM ?? '/usr/bin/chromium';
const chromiumTool = systemTool({ name: `Chromium (${CHROMIUM})`, present: () => existsSync(CHROMIUM), apt: 'chromium' });

/** False (with the one-line reason printed) when there is no Chromium; never under CI=true. */
export const available = chromiumTool.available;
if (!available) console.log(`[browser-test] skipped: ${chromiumTool.reason}`);

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'tabs');

/**
 * The harness of one test file: started before its tests (where Chromium is available)
 * and closed after them. `suite.h` is the harness once started; `suite.freshPath()`
 * names a database of its own at each call (the tests share the origin's storage).
 */
export function useHarness(prefix) {
  let n = 0;
  const suite = { h: undefined, freshPath: () => `${prefix}-${process.pid}-${++n}` };
  beforeAll(async () => {
    if (available) suite.h = await startHarness();
  });
  afterAll(async () => {
    await suite.h?.close();
  });
  return suite;
}

/**
 * Builds the page bundle, serves it and the worker, launches Chromium. Returns
 * `{ origin, browser, bundle, worker, close }`; `close()` ends all of it.
 */
export async function startHarness() {
  const tmp = tempDir('koru-tabs-');
  await build({
    entryPoints: [join(FIXTURES, 'entry.mjs')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    outfile: join(tmp.dir, 'koru.js'),
    nodePaths: [join(import.meta.dirname, '..', 'node_modules')],
    logLevel: 'silent',
  });
  const bundle = readFileSync(join(tmp.dir, 'koru.js'), 'utf8');
  const worker = readFileSync(createRequire(join(import.meta.dirname, '..', 'package.json')).resolve('@koru/delta/browser-worker.js'), 'utf8');
  const page = readFileSync(join(FIXTURES, 'index.html'), 'utf8');
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/tabs/koru.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    // The worker where the bundle looks for it, and a copy elsewhere (the `worker` option).
    else if (url.pathname === '/tabs/browser-worker.js' || url.pathname === '/assets/koru-worker.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(worker);
    else if (url.pathname === '/tabs/') res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    else res.writeHead(404).end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    origin,
    browser,
    bundle,
    worker,
    async close() {
      await browser.close();
      await new Promise((resolve) => server.close(resolve));
      tmp.cleanup();
    },
  };
}

/**
 * Runs `fn` with a fresh browser context of harness `h` (its own origin storage and
 * tabs), closed afterwards whatever `fn` did.
 */
export async function withContext(h, fn) {
  const context = await h.browser.newContext();
  try {
    return await fn(context);
  } finally {
    await context.close();
  }
}

/**
 * A tab of `context` with the bundle loaded (`globalThis.koru`); `errors` collects its
 * uncaught page errors and failed console messages.
 */
export async function openTab(context, origin) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/tabs/`);
  await page.waitForFunction(() => globalThis.koru !== undefined);
  return { page, errors };
}

/** Waits until `fn` (run in the page) returns something truthy, and returns it. */
export async function until(page, fn, arg, timeout = 30_000) {
  const handle = await page.waitForFunction(fn, arg, { timeout, polling: 20 });
  return handle.jsonValue();
}

/**
 * Opens the database at `path` in `page` as `globalThis.db`, subscribed to namespace
 * `notes` into `globalThis.seen` (`seq:key:by`). Says whether the tab owns it, that the
 * handle is a KoruDelta, and its node id.
 */
export async function join(page, path) {
  return page.evaluate(async (p) => {
    const { KoruDelta } = globalThis.koru;
    globalThis.db = await KoruDelta.start({ path: p });
    globalThis.seen = [];
    globalThis.sub = globalThis.db.subscribe({ namespace: 'notes' }, (e) => {
      globalThis.seen.push(`${e.seq}:${e.key}:${e.value?.by}`);
    });
    return { owning: globalThis.db.owning, isKoruDelta: globalThis.db instanceof KoruDelta, nodeId: globalThis.db.nodeId };
  }, path);
}
