/** The browser bench's page, bundled and served from 127.0.0.1, and the Chromium that opens it. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { build } from 'esbuild';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's Chromium unless KORU_CHROMIUM names another. */
export const CHROMIUM = process.env.KORU_CHROMIUM ?? '/usr/bin/chromium';

/** The flags tooling/browser-test launches with (headless, no sandbox as root, nothing phoning home). */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * Launches Chromium on a fresh profile directory (removed by `close`), or throws saying it
 * is missing. A profile on disk, not an off-the-record context: there OPFS and IndexedDB
 * live in the browser process's memory and every sync-access-handle call is a round trip
 * to it (~0.6 ms a write here), which no user's browser pays.
 */
export async function launchChromium(): Promise<{ readonly context: BrowserContext; readonly version: string; close(): Promise<void> }> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is missing at ${CHROMIUM} (Debian: apt-get install chromium; or set KORU_CHROMIUM)`);
  const profile = mkdtempSync(join(tmpdir(), 'koru-bench-profile-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: FLAGS });
  // A persistent context has no Browser object to ask, and the user agent says 150.0.0.0.
  const banner = execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return {
    context,
    version: /([\d]+\.[\d.]+)/.exec(banner)?.[1] ?? banner.trim(),
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * The worker file of @koru/delta's browser build, if this build has one (the engine in a
 * dedicated worker, loaded by `new URL('./browser-worker.js', import.meta.url)`: esbuild
 * leaves that URL as it is, so the file is served next to the page bundle).
 */
export function deltaWorkerFile(): string | undefined {
  const require = createRequire(import.meta.url);
  const dist = dirname(require.resolve('@koru/delta/package.json'));
  const file = join(dist, 'dist', 'browser-worker.js');
  return existsSync(file) ? file : undefined;
}

/** The files the page needs, bundled for the browser (not minified: this is the bench page). */
export async function bundlePage(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const page = await build({
    entryPoints: [join(import.meta.dirname, 'page.ts')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  files.set('/page.js', page.outputFiles[0]!.text);
  const worker = deltaWorkerFile();
  if (worker !== undefined) {
    // Served as the package ships it (minified, self-contained), as a site copies it.
    files.set('/browser-worker.js', readFileSync(worker, 'utf8'));
  }
  files.set('/', '<!doctype html><meta charset="utf-8"><title>KoruDelta browser bench</title><script type="module" src="/page.js"></script>');
  return files;
}

/** A static server on 127.0.0.1 (random port) for `files`. */
export async function serve(files: Map<string, string>): Promise<{ readonly origin: string; readonly close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const body = files.get(path);
    if (body === undefined) res.writeHead(404).end();
    // Cross-origin isolated (COOP + COEP), so performance.now() has 5 µs resolution instead
    // of 100 µs: single puts take well under a millisecond.
    else
      res
        .writeHead(200, {
          'content-type': path.endsWith('.js') ? 'text/javascript' : 'text/html',
          'cache-control': 'no-store',
          'cross-origin-opener-policy': 'same-origin',
          'cross-origin-embedder-policy': 'require-corp',
        })
        .end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the page server has no port');
  return {
    origin: `http://127.0.0.1:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
