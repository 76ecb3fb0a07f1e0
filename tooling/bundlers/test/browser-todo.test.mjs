// Smoke test of examples/browser-todo: built by Vite as its README runs it, served from
// 127.0.0.1, synced with a real server on another port (its origin allowed), in a real
// headless Chromium: add a todo through the form, reload, it is still there, and the server
// has it.
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

describe.skipIf(!tool.available)('examples/browser-todo', () => {
  it('adds a todo that survives a reload and reaches the server', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${site.origin}/?server=${encodeURIComponent(server.url.replace(/^http/, 'ws'))}&token=${TOKEN}`);
      await page.waitForSelector('body[data-ready="true"]');
      await page.fill('#title', 'buy milk');
      await page.press('#title', 'Enter');
      await page.waitForSelector('#list li .title:text("buy milk")');
      await page.waitForSelector('#status[data-state="online"]');
      await page.evaluate(() => globalThis.todoApp.link.synced());
      const keys = await server.db.listKeys('todos');
      expect(keys).toHaveLength(1);
      expect(await server.db.get('todos', keys[0])).toMatchObject({ title: 'buy milk', done: false });
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]');
      expect(await page.locator('#list li .title').allTextContents()).toEqual(['buy milk']);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
