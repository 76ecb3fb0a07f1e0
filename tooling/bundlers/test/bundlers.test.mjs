// @koru/delta in an app built by each of Vite, esbuild and webpack (plain configurations),
// served from 127.0.0.1 and run in a real headless Chromium: the database opened with
// `KoruDelta.start({ path })` keeps a put across a reload. Sizes are printed, not asserted
// (they are figures: `pnpm bench:browser` writes them to its results).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '@koru/vitest-preset/helpers';
import { BUNDLERS, buildApp, measureBuild } from '../src/build.mjs';
import { chromiumTool, launchChromium } from '../src/chromium.mjs';
import { serveDir } from '../src/serve.mjs';

const tool = chromiumTool();
if (!tool.available) console.log(`[bundlers] skipped: ${tool.reason}`);

let browser;
let tmp;
beforeAll(async () => {
  if (!tool.available) return;
  tmp = tempDir('koru-bundlers-');
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  tmp?.cleanup();
});

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

describe.skipIf(!tool.available).each(BUNDLERS)('%s', (bundler) => {
  it('builds an app whose database keeps a put across a reload', async () => {
    const outDir = `${tmp.dir}/${bundler}`;
    const { entry } = await buildApp(bundler, outDir);
    const sizes = measureBuild(outDir, entry);
    console.log(`[bundlers] ${bundler}: page ${kb(sizes.page.bytes)} (${kb(sizes.page.gzipBytes)} gzip), worker and other chunks ${kb(sizes.worker.bytes)} (${kb(sizes.worker.gzipBytes)} gzip): ${sizes.worker.files.join(', ') || 'none'}`);
    const site = await serveDir(outDir);
    // A context of its own: its storage starts empty and goes with it.
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(site.origin);
      const value = { bundler, n: 1 };
      const before = await page.evaluate(async (v) => {
        const app = await globalThis.app;
        const missing = await app.get();
        await app.put(v);
        return { missing, now: await app.get() };
      }, value);
      expect(before).toEqual({ missing: null, now: value });
      await page.reload();
      const after = await page.evaluate(async () => {
        const app = await globalThis.app;
        return { value: await app.get(), history: await app.history() };
      });
      expect(after).toEqual({ value, history: [value] });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
      await site.close();
    }
  });
});
