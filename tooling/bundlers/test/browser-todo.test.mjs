// Smoke test of examples/browser-todo: built by Vite as its README runs it, served from
// 127.0.0.1, pointed at a real server on another port (its origin allowed), in a real
// headless Chromium: add a todo through the form, reload, it is still there.
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
let server;
let browser;
beforeAll(async () => {
  if (!tool.available) return;
  tmp = tempDir('koru-browser-todo-');
  await buildApp('vite', join(tmp.dir, 'app'), { appDir: EXAMPLE });
  site = await serveDir(join(tmp.dir, 'app'));
  server = await startServer({ path: join(tmp.dir, 'db'), port: 0, log: 'silent', token: TOKEN, allowOrigins: [site.origin] });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
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

/** Opens the app synced with the test's server; resolves to the page and its error list. */
async function openApp(context) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${site.origin}/?server=${encodeURIComponent(server.url.replace(/^http/, 'ws'))}&token=${TOKEN}`);
  await ready(page, errors);
  return { page, errors };
}

describe.skipIf(!tool.available)('examples/browser-todo', () => {
  it('adds a todo through the form that is still there after a reload', async () => {
    const context = await browser.newContext();
    try {
      const { page, errors } = await openApp(context);
      await page.fill('#title', 'buy milk');
      await page.press('#title', 'Enter');
      await page.waitForSelector('#list li .title:text("buy milk")');
      await page.reload();
      await ready(page, errors);
      expect(await page.locator('#list li .title').allTextContents()).toEqual(['buy milk']);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('completes and deletes a todo; shows its history and the list as it was at an earlier change', async () => {
    const context = await browser.newContext();
    try {
      const { page, errors } = await openApp(context);
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
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
