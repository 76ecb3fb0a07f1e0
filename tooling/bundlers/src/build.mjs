// Builds tooling/bundlers/app (an app importing @koru/delta) with Vite, esbuild or webpack,
// each with its plain configuration and no plugins, the way each one's documentation starts,
// and measures what it emitted. Shared by the bundler tests and `pnpm bench:browser`.
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

/** The app's directory (index.html + main.js). */
export const APP_DIR = join(import.meta.dirname, '..', 'app');

/** The bundlers tested. */
export const BUNDLERS = ['vite', 'esbuild', 'webpack'];

const require = createRequire(import.meta.url);

/**
 * The worker file of @koru/delta's browser build (dist/browser-worker.js), when this build
 * runs the database in a worker; undefined for a build that has none.
 */
export function deltaWorkerFile() {
  const file = join(dirname(require.resolve('@koru/delta/package.json')), 'dist', 'browser-worker.js');
  return existsSync(file) ? file : undefined;
}

/**
 * Builds `appDir` (default: this package's app) with `bundler` into `outDir`.
 * @param {'vite' | 'esbuild' | 'webpack'} bundler
 * @param {string} outDir
 * @param {{ appDir?: string }} [options]
 * @returns {Promise<{ entry: string }>} `entry`: the page's script, relative to outDir
 */
export async function buildApp(bundler, outDir, { appDir = APP_DIR } = {}) {
  if (bundler === 'vite') {
    const { build } = await import('vite');
    // Vite resolves the `browser` export condition and bundles the
    // `new Worker(new URL('./browser-worker.js', import.meta.url))` of @koru/delta by itself.
    await build({ root: appDir, configFile: false, logLevel: 'silent', build: { outDir, emptyOutDir: true } });
    const script = /<script[^>]*src="\/?([^"]+)"/.exec(readFileSync(join(outDir, 'index.html'), 'utf8'));
    return { entry: script[1] };
  }
  if (bundler === 'esbuild') {
    const { build } = await import('esbuild');
    // esbuild bundles the page but leaves `new URL('./browser-worker.js', import.meta.url)`
    // as it is, so the worker must sit next to the page's bundle under that name. The
    // documented step: the worker file as a second entry point, names flattened, i.e.
    //   esbuild main.js node_modules/@koru/delta/dist/browser-worker.js --bundle --minify
    //     --format=esm --splitting --outdir=dist --entry-names=[name]
    // (copying the file there, or passing `start({ path, worker: url })`, works as well).
    const worker = deltaWorkerFile();
    if (worker === undefined) throw new Error('@koru/delta has no dist/browser-worker.js: build it first');
    await build({
      entryPoints: [join(appDir, 'main.js'), worker],
      entryNames: '[name]',
      bundle: true,
      // Chunks, so that the engine an in-memory database needs loads when it is asked
      // for (`import()`), not with the page.
      splitting: true,
      format: 'esm',
      platform: 'browser',
      minify: true,
      outdir: outDir,
      logLevel: 'silent',
    });
    copyFileSync(join(appDir, 'index.html'), join(outDir, 'index.html'));
    return { entry: 'main.js' };
  }
  if (bundler === 'webpack') {
    const { default: webpack } = await import('webpack');
    // Production mode (minified with webpack's own terser); target web takes the
    // `browser` condition; webpack 5 bundles `new Worker(new URL(..., import.meta.url))`.
    const stats = await new Promise((resolve, reject) =>
      webpack({ mode: 'production', context: appDir, entry: './main.js', output: { path: outDir, clean: true }, devtool: false }, (err, s) => (err ? reject(err) : resolve(s))),
    );
    if (stats.hasErrors()) throw new Error(`webpack failed:\n${stats.toString('errors-only')}`);
    // No HTML plugin: the page is the app's own index.html, whose script is main.js.
    copyFileSync(join(appDir, 'index.html'), join(outDir, 'index.html'));
    return { entry: 'main.js' };
  }
  throw new Error(`unknown bundler ${bundler}`);
}

/** Every file under `dir`, relative paths. */
function files(dir) {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => statSync(join(dir, f)).isFile());
}

/**
 * The scripts a page loads before it runs: `entry` and, transitively, every chunk it
 * imports statically (`import … from "./x.js"`, `import "./x.js"`, `export … from`), as
 * the bundlers write them in minified ES modules. Chunks reached only through `import()`
 * or a `new Worker(…)` are left out: they load later, when the code asks for them.
 * @param {string} outDir
 * @param {string} entry relative to outDir
 * @returns {string[]} relative paths, entry first
 */
export function staticClosure(outDir, entry) {
  const seen = [entry];
  for (let i = 0; i < seen.length; i++) {
    const code = readFileSync(join(outDir, seen[i]), 'utf8');
    // A static import or re-export's specifier follows `from` or a bare `import`, never
    // `import(`; relative specifiers only (a bundle has no bare ones left).
    for (const m of code.matchAll(/(?:\bfrom|\bimport)\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      const file = relative(outDir, join(outDir, dirname(seen[i]), m[1]));
      if (!seen.includes(file)) seen.push(file);
    }
  }
  return seen;
}

/**
 * What a build emitted: the page's script with every chunk it imports statically (what
 * loads with the page), and every other script (the worker, and chunks loaded on demand
 * such as the in-memory engine), minified as the bundler left them, and gzipped at level 9.
 * @returns {{ page: { files: string[], bytes: number, gzipBytes: number }, worker: { files: string[], bytes: number, gzipBytes: number } }}
 */
export function measureBuild(outDir, entry) {
  const scripts = files(outDir).filter((f) => /\.m?js$/.test(f));
  const measure = (list) => {
    const buffers = list.map((f) => readFileSync(join(outDir, f)));
    return {
      files: list.map((f) => relative(outDir, join(outDir, f))),
      bytes: buffers.reduce((n, b) => n + b.length, 0),
      gzipBytes: buffers.reduce((n, b) => n + gzipSync(b, { level: 9 }).length, 0),
    };
  };
  const page = staticClosure(outDir, entry);
  return { page: measure(page), worker: measure(scripts.filter((f) => !page.includes(f))) };
}
