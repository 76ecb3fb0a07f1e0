// Smoke test of examples/browser-todo: built by Vite as its README runs it, served from
// 127.0.0.1, synced with a real server on another port (its origin allowed, a token), in a
// real headless Chromium: add a todo through the form, reload, it is still there; history
// and time travel; both ways of the sync, and edits made while the server is down
// converging once it is back.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '@koru/vitest-preset/helpers';
import { startServer } from '@koru/server';
import { buildApp } from '../src/build.mjs';
import { chromiumTool, launchChromium } from '../src/chromium.mjs';
import { serveDir } from '../src/serve.mjs';

const EXAMPLE = join(import.meta.dirname, '..', '..', '..', 'examples', 'browser-todo');
const TOKEN = 'todo-token';
const tool = chromiumTool();
if (!tool.available) console.log(`[browser-todo] skipped: ${tool.reason}`);

let tmp;
let site;
let browser;
let servers = 0;
beforeAll(async () => {
  if (!tool.available) return;
  tmp = tempDir('koru-browser-todo-');
  await buildApp('vite', join(tmp.dir, 'app'), { appDir: EXAMPLE });
  site = await serveDir(join(tmp.dir, 'app'));
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await site?.close();
  tmp?.cleanup();
});

/** Waits until the app has rendered; fails at once with the page's error if it threw. */
async function ready(page, errors) {
  for (let i = 0; i < 300; i++) {
    if (errors.length > 0) throw new Error(`the app failed: ${errors.join('; ')}`);
    if ((await page.locator('body[data-ready="true"]').count()) === 1) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the app did not render within 30 s');
}

/**
 * Runs `test` on the app in a browser context of its own (empty storage), synced with a
 * server of its own (so nothing of another test arrives); both are closed after.
 */
async function withApp(test) {
  const path = join(tmp.dir, `db-${servers++}`);
  const options = { path, log: 'silent', token: TOKEN, allowOrigins: [site.origin] };
  let server = await startServer({ ...options, port: 0 });
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${site.origin}/?server=${encodeURIComponent(server.url.replace(/^http/, 'ws'))}&token=${TOKEN}`);
    await ready(page, errors);
    await test(page, errors, {
      db: () => server.db,
      stop: () => server.close(),
      /** The same database on the same port, as `kdelta start` run again. */
      restart: async () => {
        server = await startServer({ ...options, port: server.port });
      },
    });
    expect(errors).toEqual([]);
  } finally {
    await context.close();
    // Already closed when a test failed between stop() and restart().
    await server.close().catch(() => {});
  }
}

/** Waits until the status line reads `text` (a substring) in state `state`; on timeout, says what it read. */
async function status(page, state, text) {
  try {
    await page.waitForFunction(([s, t]) => {
      const el = document.getElementById('status');
      return el.dataset.state === s && el.textContent.includes(t);
    }, [state, text]);
  } catch (e) {
    const seen = await page.evaluate(() => {
      const el = document.getElementById('status');
      return `${el.dataset.state}: ${el.textContent}`;
    }).catch(() => 'the page is gone');
    throw new Error(`the status never read ${state}: …${text}…; it reads ${seen}`, { cause: e });
  }
}

describe.skipIf(!tool.available)('examples/browser-todo', () => {
  it('adds a todo through the form that is still there after a reload', () =>
    withApp(async (page, errors) => {
      await page.fill('#title', 'buy milk');
      await page.press('#title', 'Enter');
      await page.waitForSelector('#list li .title:text("buy milk")');
      await page.reload();
      await ready(page, errors);
      expect(await page.locator('#list li .title').allTextContents()).toEqual(['buy milk']);
    }));

  it('completes and deletes a todo; shows its history and the list as it was at an earlier change', () =>
    withApp(async (page) => {
      await page.fill('#title', 'write report');
      await page.press('#title', 'Enter');
      const item = page.locator('#list li', { hasText: 'write report' });
      await item.locator('input[type=checkbox]').check();
      await page.waitForSelector('#list li.done');
      await item.locator('button', { hasText: 'history' }).click();
      await page.waitForSelector('#history:not([hidden])');
      const history = await page.locator('#history-list li').allTextContents();
      expect(history.map((h) => h.replace(/^.*: /, ''))).toEqual(['☐ write report', '☑ write report']);
      await item.locator('button', { hasText: 'delete' }).click();
      await page.waitForFunction(() => document.querySelectorAll('#list li').length === 0);
      // Three changes: back to the first, the todo is there and not done.
      await page.evaluate(() => {
        const slider = document.getElementById('travel');
        slider.value = '0';
        slider.dispatchEvent(new Event('input'));
      });
      await page.waitForFunction(() => document.getElementById('travel-label').textContent.includes('change 1 of 3'));
      await page.waitForSelector('#list.past li:not(.done) .title:text("write report")');
    }));

  it('sends a todo to the server and shows one written there', () =>
    withApp(async (page, _errors, server) => {
      await page.fill('#title', 'buy milk');
      await page.press('#title', 'Enter');
      await status(page, 'online', 'all changes synced');
      const keys = await server.db().listKeys('todos');
      expect(keys).toHaveLength(1);
      expect(await server.db().get('todos', keys[0])).toMatchObject({ title: 'buy milk', done: false });
      await server.db().put('todos', 'from-server', { title: 'call mum', done: false, created: Date.now() + 1000 });
      await page.waitForSelector('#list li .title:text("call mum")');
    }));

  it('keeps edits made while the server is down and converges once it is back', () =>
    withApp(async (page, _errors, server) => {
      await page.fill('#title', 'before');
      await page.press('#title', 'Enter');
      await status(page, 'online', 'all changes synced');
      await server.stop();
      await status(page, 'offline', '');
      await page.fill('#title', 'while offline');
      await page.press('#title', 'Enter');
      await status(page, 'offline', '1 change pending');
      await server.restart();
      await status(page, 'online', 'all changes synced');
      const titles = await Promise.all((await server.db().listKeys('todos')).map(async (k) => (await server.db().get('todos', k)).title));
      expect(titles.sort()).toEqual(['before', 'while offline']);
    }));
});
