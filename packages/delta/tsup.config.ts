import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'tsup';
import { koruTsup } from '@koru/tsconfig/tsup.mjs';

export default [
  // The browser entry (`browser` export condition, ESM only) is a third entry of the
  // package build, sharing its chunks. `clean` spares the worker file, which the second
  // build writes at the same time. The CJS copy of the browser entry is removed: nothing
  // points to it, and `import.meta.url` (where the worker file is) has no CJS meaning.
  koruTsup({
    entry: ['src/index.ts', 'src/node.ts', 'src/browser.ts'],
    clean: ['!browser-worker.js', '!browser-worker.js.map'],
    onSuccess: async () => {
      for (const f of ['browser.cjs', 'browser.cjs.map']) await rm(new URL(`./dist/${f}`, import.meta.url), { force: true });
    },
  }),
  // The database worker: one self-contained ES module (@koru/* and hash-wasm inside), so
  // that `new Worker(new URL('./browser-worker.js', import.meta.url), { type: 'module' })`
  // works unbundled and any site can copy the one file.
  defineConfig({
    entry: { 'browser-worker': 'src/browser/worker.ts' },
    format: ['esm'],
    dts: false,
    clean: false,
    sourcemap: true,
    // Sites serve this file as it is (copied, or through a bundler that may not minify a
    // worker): minified, with its map for debugging.
    minify: true,
    target: 'es2022',
    platform: 'browser',
    noExternal: [/^@koru\//, /^hash-wasm$/],
    splitting: false,
    // The worker needs the local engine and the sync client at once: their loaders become
    // static imports (src/lazy-modules.ts says why).
    esbuildPlugins: [
      {
        name: 'worker-static-modules',
        setup(build) {
          build.onResolve({ filter: /\/lazy-modules\.js$/ }, () => ({ path: fileURLToPath(new URL('./src/lazy-modules.static.ts', import.meta.url)) }));
        },
      },
    ],
  }),
];
