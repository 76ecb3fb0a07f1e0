// The page of an app using a persistent browser database must not carry the engine: with
// `start({ path })` the engine runs in the database worker, and the browser build loads
// the local engine (in-memory databases) only on the first `start()` without path, by a
// dynamic import. These tests hold both: the page's own code bundles none of the engine
// (a structural check of esbuild's metafile, never a size), and an in-memory database
// still works in a page, with the lazily loaded engine (Vite splits it into a chunk of
// its own; esbuild without --splitting inlines it).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '@koru/vitest-preset/helpers';
import { buildApp } from '../src/build.mjs';
import { chromiumTool, launchChromium } from '../src/chromium.mjs';
import { serveDir } from '../src/serve.mjs';

const tool = chromiumTool();
if (!tool.available) console.log(`[bundlers] skipped: ${tool.reason}`);

/** The one-line app of the bench's size figure: a persistent database, nothing else. */
const ONE_LINE_APP = "import { KoruDelta } from '@koru/delta';\nglobalThis.db = await KoruDelta.start({ path: 'app' });\n";

/**
 * Inputs only the engine uses: the regex engine, the B-tree, the sync client, and the main
 * and browser bundles of @koru/storage and @koru/query (the page takes their error classes,
 * name checks and the OPFS pool listing from their `errors`, `names`, `opfs-listing` and
 * `subscription-check` entries, which share no file with the store or the query compiler).
 */
const ENGINE_INPUT = /(?:^|\/)(?:packages\/client\/|node_modules\/re2js\/|node_modules\/sorted-btree\/|node_modules\/@koru\/client\/|packages\/(?:storage|query)\/dist\/(?:index|browser)\.js$)/;
/** The engine's classes (store, tree, indexes, views, sync client), as esbuild declares them unminified. */
const ENGINE_CLASS = /\b(?:var|let|const|class) (CausalStorage|LsmTree|MemoryAdapter|VersionStore|IndexSet|ViewSet|SecondaryIndex|KoruClient)\b/;

let tmp;
beforeAll(() => {
  tmp = tempDir('koru-page-engine-');
});
afterAll(() => tmp?.cleanup());

describe('the page of a persistent-database app', () => {
  it("its own code bundles none of the engine: the local engine is reached only by a dynamic import (left out here)", async () => {
    const { build } = await import('esbuild');
    const lazy = [];
    const result = await build({
      // Resolved from this package, which depends on @koru/delta.
      stdin: { contents: ONE_LINE_APP, resolveDir: join(import.meta.dirname, '..'), loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      // Unminified: the engine's class names stay readable in the output.
      minify: false,
      write: false,
      metafile: true,
      outdir: join(tmp.dir, 'one-line'),
      logLevel: 'silent',
      plugins: [
        {
          // What the page loads later (the local engine, the sync client) is left out:
          // without --splitting esbuild would inline it into the page.
          name: 'lazy-imports-out',
          setup(b) {
            b.onResolve({ filter: /.*/ }, (args) => {
              if (args.kind !== 'dynamic-import') return undefined;
              lazy.push(args.path);
              return { path: args.path, external: true };
            });
          },
        },
      ],
    });
    const [output] = Object.values(result.metafile.outputs).filter((o) => o.entryPoint !== undefined);
    const inputs = Object.entries(output.inputs)
      .filter(([, v]) => v.bytesInOutput > 0)
      .map(([path]) => path);
    expect(inputs.some((p) => p.includes('delta/dist/'))).toBe(true);
    expect(inputs.filter((p) => ENGINE_INPUT.test(p))).toEqual([]);
    const text = result.outputFiles.find((f) => f.path.endsWith('.js')).text;
    expect(ENGINE_CLASS.exec(text)?.[1]).toBeUndefined();
    // The in-memory path is there, lazily: the local engine's chunk.
    expect(lazy.some((p) => /local-engine/.test(p))).toBe(true);
  });
});

describe.skipIf(!tool.available).each(['vite', 'esbuild'])('an in-memory database in a page (%s)', (bundler) => {
  let browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('start() without path works from the browser entry: writes, reads, queries, the feed', async () => {
    const outDir = join(tmp.dir, `memory-${bundler}`);
    const { entry } = await buildApp(bundler, outDir, { appDir: join(import.meta.dirname, '..', 'app-memory') });
    expect(entry).toBeTruthy();
    const site = await serveDir(outDir);
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(site.origin);
      const result = await page.evaluate(() => globalThis.run());
      expect(result).toEqual({
        isKoruDelta: true,
        value: { name: 'Ada', age: 36 },
        frozen: true,
        rows: ['ada'],
        badQuery: 'INVALID_QUERY',
        events: ['ada', 'bob'],
        seq: 2,
      });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
      await site.close();
    }
  });
});
