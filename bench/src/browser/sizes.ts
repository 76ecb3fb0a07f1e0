/**
 * What each store adds to a page: a one-line app importing it, bundled by esbuild
 * (platform "browser", minified), gzipped (level 9, as a static server would serve it).
 * KoruDelta's worker (the engine, when its browser build runs in a worker) is counted
 * separately: the page loads it on `start({ path })`, not with the page.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import type { Subject } from './page.js';
import { deltaWorkerFile } from './serve.js';

/** One bundle's size. */
export interface BundleSize {
  readonly what: string;
  readonly bundler: string;
  readonly minifiedBytes: number;
  readonly gzipBytes: number;
}

const APPS: Record<Subject, { readonly what: string; readonly source: string }> = {
  koru: { what: 'KoruDelta page, one file (no splitting)', source: "import { KoruDelta } from '@koru/delta';\nglobalThis.db = await KoruDelta.start({ path: 'app' }).catch(() => KoruDelta.start());\n" },
  dexie: { what: 'Dexie', source: "import Dexie from 'dexie';\nconst db = new Dexie('app');\ndb.version(1).stores({ docs: 'id' });\nglobalThis.db = db;\n" },
  pouchdb: { what: 'PouchDB', source: "import PouchDB from 'pouchdb-browser';\nglobalThis.db = new PouchDB('app');\n" },
};

async function minified(options: { readonly stdin?: string; readonly entry?: string }): Promise<Uint8Array> {
  const out = await build({
    ...(options.stdin !== undefined ? { stdin: { contents: options.stdin, resolveDir: import.meta.dirname, loader: 'js' as const } } : { entryPoints: [options.entry!] }),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.contents;
}

const size = (what: string, bytes: Uint8Array): BundleSize => ({ what, bundler: 'esbuild', minifiedBytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length });

/** The sizes of the subjects' one-line apps, and KoruDelta's worker when its build has one. */
export async function bundleSizes(subjects: readonly Subject[]): Promise<BundleSize[]> {
  const sizes: BundleSize[] = [];
  for (const s of subjects) sizes.push(size(APPS[s].what, await minified({ stdin: APPS[s].source })));
  const worker = deltaWorkerFile();
  if (subjects.includes('koru') && worker !== undefined) sizes.push(size('KoruDelta worker', await minified({ entry: worker })));
  return sizes;
}

/** tooling/bundlers' builder (Vite, esbuild, webpack with plain configurations), run from its own package so it finds them. */
const BUNDLERS_BUILD = join(import.meta.dirname, '..', '..', '..', 'tooling', 'bundlers', 'src', 'build.mjs');

/**
 * The bundler tests' app (`KoruDelta.start({ path })`, a put, a get) as Vite, esbuild and
 * webpack emit it, minified by each: the page's script and the worker's, separately.
 * Empty when tooling/bundlers is not installed (a filtered install).
 */
export async function bundlerSizes(): Promise<BundleSize[]> {
  if (!existsSync(join(BUNDLERS_BUILD, '..', '..', 'node_modules', 'vite'))) return [];
  const { BUNDLERS, buildApp, measureBuild } = (await import(BUNDLERS_BUILD)) as typeof import('../../../tooling/bundlers/src/build.mjs');
  const dir = mkdtempSync(join(tmpdir(), 'koru-bench-bundlers-'));
  const sizes: BundleSize[] = [];
  try {
    for (const bundler of BUNDLERS) {
      const out = join(dir, bundler);
      const { entry } = await buildApp(bundler, out);
      const { page, worker } = measureBuild(out, entry);
      sizes.push({ what: 'KoruDelta app page', bundler, minifiedBytes: page.bytes, gzipBytes: page.gzipBytes });
      if (worker.files.length > 0) sizes.push({ what: 'KoruDelta app: worker and lazy chunks', bundler, minifiedBytes: worker.bytes, gzipBytes: worker.gzipBytes });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return sizes;
}
