// Shared set-up of the console tests (not a test file itself): a real `kdelta start`
// (a child process on 127.0.0.1, a random port, a fresh database) serving the console at
// `/`, a client to write test data through, and a headless Chromium. Screenshots of each
// page go to ../screenshots/ (test artifacts: look at them, they are what a user sees).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { KoruClient } from '@koru/client';
import { systemTool, tempDir } from '@koru/vitest-preset/helpers';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';

const require = createRequire(import.meta.url);
const KDELTA = join(dirname(require.resolve('kdelta/package.json')), 'dist', 'kdelta.js');
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const CHROMIUM = process.env.KORU_CHROMIUM ?? '/usr/bin/chromium';
const chromiumTool = systemTool({ name: `Chromium (${CHROMIUM})`, present: () => existsSync(CHROMIUM), apt: 'chromium' });

/** False (with the one-line reason printed) when there is no Chromium; never under CI=true. */
export const available = chromiumTool.available;
if (!available) console.log(`[console-test] skipped: ${chromiumTool.reason}`);

export const SHOTS = join(import.meta.dirname, '..', 'screenshots');

/**
 * Starts `kdelta start` on a fresh database, or on the PostgreSQL `store` URL if given
 * (with `token`, joining `joinAddress`'s cluster, if given); resolves once it serves.
 */
export async function startKdelta({ token, joinAddress, store } = {}) {
  const tmp = tempDir('koru-console-');
  const where = store !== undefined ? ['--store', store] : ['-d', join(tmp.dir, 'db')];
  const args = [KDELTA, ...where, 'start', '--port', '0', ...(token !== undefined ? ['--token', token] : []), ...(joinAddress !== undefined ? ['--join', joinAddress] : [])];
  const proc = spawn(process.execPath, args, { env: { ...process.env, KORU_TOKEN: '', KORU_PORT: '', PORT: '', KORU_DB_PATH: '', KORU_STORE: '', NO_COLOR: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  const gone = new Promise((r) => (proc.exitCode !== null ? r(proc.exitCode) : proc.once('exit', r)));
  let err = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kdelta start did not serve in 30 s: ${err}`)), 30_000);
    proc.once('exit', (code) => reject(new Error(`kdelta start exited ${String(code)}: ${err}`)));
    proc.stderr.setEncoding('utf8').on('data', (d) => {
      err += d;
      const m = /serving \S+ at (http:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  return {
    url,
    stop: async () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await gone;
      tmp.cleanup();
    },
  };
}

/**
 * The harness of one test file, started before its tests (where Chromium is available),
 * on a fresh directory or on the store `store()` names:
 * `suite.h` is `{ url, token, client, browser, page(options), shot(page, name), close }`.
 */
export function useConsole({ token, store } = {}) {
  const suite = { h: undefined };
  beforeAll(async () => {
    // `store`: an async function giving the PostgreSQL URL to serve, called only here.
    if (available) suite.h = await startConsole({ token, store: store === undefined ? undefined : await store() });
  });
  afterAll(async () => {
    await suite.h?.close();
  });
  return suite;
}

async function startConsole({ token, store }) {
  const server = await startKdelta({ token, store });
  const client = await KoruClient.connect(server.url, token !== undefined ? { token } : {});
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  mkdirSync(SHOTS, { recursive: true });
  const contexts = [];
  return {
    url: server.url,
    token,
    client,
    browser,
    /**
     * A fresh page (its own context: its own session storage) opened at `hash`. Page
     * errors and console errors are collected in `page.problems`, which must stay empty.
     */
    async page(hash = '#/', { width = 1100, height = 800, colorScheme = 'light' } = {}) {
      const context = await browser.newContext({ viewport: { width, height }, colorScheme });
      contexts.push(context);
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
      const page = await context.newPage();
      page.problems = [];
      page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
      page.on('console', (m) => m.type() === 'error' && page.problems.push(`console: ${m.text()}`));
      await page.goto(`${server.url}/${hash}`);
      return page;
    },
    /** Writes a full-page screenshot as screenshots/<name>.png. */
    async shot(page, name) {
      await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => undefined);
      await browser.close();
      await client.close();
      await server.stop();
    },
  };
}

/**
 * Runs axe-core on the page (WCAG 2 A and AA rules) and returns the violations of impact
 * serious or critical, as `rule: target` lines. Evaluated through the DevTools protocol,
 * which the page's Content-Security-Policy does not govern.
 */
export async function seriousA11yViolations(page) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => globalThis.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')} (${n.failureSummary?.split('\n')[1]?.trim() ?? ''})`));
}

/** The screens every page is checked on: a phone and a desktop. */
export const SIZES = { phone: { width: 375, height: 740 }, desktop: { width: 1280, height: 800 } };

/**
 * Expects `page` to have no serious accessibility violation and nothing wider than its
 * screen (no sideways scrolling); `what` names the page in a failure.
 */
export async function expectReadable(page, what) {
  expect(await seriousA11yViolations(page), what).toEqual([]);
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), `${what}: fits the screen`).toBe(true);
}

/**
 * The text of each element matching `selector` that reaches past the screen's left or
 * right edge (hidden in a box that scrolls sideways, say): none means all are in sight.
 */
export async function outOfSight(page, selector) {
  return page.evaluate(
    (sel) =>
      Array.from(document.querySelectorAll(sel))
        .filter((e) => {
          const r = e.getBoundingClientRect();
          return r.left < 0 || r.right > document.documentElement.clientWidth + 0.5;
        })
        .map((e) => e.textContent),
    selector,
  );
}

/** Expects the page to have met no script error. */
export function expectNoProblems(page) {
  expect(page.problems).toEqual([]);
}
