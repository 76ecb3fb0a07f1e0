/**
 * `pnpm bench:browser`: KoruDelta beside Dexie (IndexedDB) and PouchDB (pouchdb-browser,
 * IndexedDB) in one page of a real headless Chromium, and the minified + gzip size of each.
 * Writes results/browser-YYYY-MM-DD.{json,md} (results/browser-partial.* with --quick).
 *
 *   tsx src/browser/run.ts [--quick] [--only koru,dexie,pouchdb]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { machineInfo } from '../machine.js';
import type { PageApi, Rate, Subject } from './page.js';
import { bundlePage, launchChromium, serve } from './serve.js';
import { bundleSizes, bundlerSizes, type BundleSize } from './sizes.js';
import { measureSyncLatency, type SyncLatency } from './sync-latency.js';
import { toMarkdown, type BrowserRow, type BrowserResults } from './report.js';

const BENCH_DIR = join(import.meta.dirname, '..', '..');
const SUBJECTS: readonly Subject[] = ['koru', 'dexie', 'pouchdb'];

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const onlyArg = argv.indexOf('--only');
const only = onlyArg >= 0 ? (argv[onlyArg + 1] ?? '').split(',').filter((s): s is Subject => (SUBJECTS as readonly string[]).includes(s)) : [...SUBJECTS];
/** seconds per timed run; runs per row (median reported); open-row database size */
const SECONDS = quick ? 0.3 : 1;
const RUNS = quick ? 1 : 3;
const OPEN_KEYS = quick ? 1_000 : 10_000;
const OPEN_VERSIONS = 10;
const BATCH = 1_000;
const SYNC_CHANGES = quick ? 50 : 300;

declare global {
  // eslint-disable-next-line no-var
  var koruBench: PageApi;
}

const started = performance.now();
const machine = machineInfo();
const rows: BrowserRow[] = [];
const problems: string[] = [];
/** Rows not measured and why (not failures). */
const skipped: string[] = [];
let koruMode: string | undefined;
let koruAdapter: string | undefined;

/** A run that takes longer than this (runs take ~1 s) is reported as a problem (a hang), not waited for. */
const ROW_TIMEOUT_MS = 60_000;
function withTimeout<T>(what: string, work: Promise<T>, ms = ROW_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** The run with the median rate, so its p50/p99 go with the figure reported. */
const medianRun = (runs: readonly Rate[]): Rate => [...runs].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(runs.length / 2)]!;

const files = await bundlePage();
const site = await serve(files);
const chromiumProfile = await launchChromium();
const chromiumVersion = chromiumProfile.version;
const context = chromiumProfile.context;

async function openPage(): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
  await page.goto(site.origin);
  await page.waitForFunction(() => globalThis.koruBench !== undefined);
  return page;
}

/** KoruDelta close() calls that did not resolve in time, over every page closed so far. */
let closeHangs = 0;
/** Closes a bench page, first counting its hung KoruDelta closes. */
async function closePage(p: Page): Promise<void> {
  closeHangs += await p.evaluate(() => globalThis.koruBench.closeHangs()).catch(() => 0);
  await p.close();
}

function label(subject: Subject): string {
  return subject === 'koru' ? `KoruDelta (${koruMode ?? '?'})` : subject === 'dexie' ? 'Dexie' : 'PouchDB';
}

async function row(subject: Subject, operation: string, run: () => Promise<Rate>, notes: string): Promise<void> {
  console.log(`[bench:browser]   ${operation}`);
  try {
    const runs: Rate[] = [];
    for (let r = 0; r < RUNS; r++) runs.push(await withTimeout(`${subject} ${operation}, run ${r + 1}`, run()));
    const m = medianRun(runs);
    rows.push({ subject, operation, value: m.perSecond, unit: operation.startsWith('batched') ? 'items/s' : 'ops/s', ...(m.p50Ms !== undefined ? { p50Ms: m.p50Ms, p99Ms: m.p99Ms! } : {}), runs: runs.map((x) => x.perSecond), notes });
  } catch (e) {
    problems.push(`${subject} ${operation}: ${String(e)}`);
    if (String(e).includes('no answer within')) pageHung = true;
  }
}

/** Set when a call to the page hung: the next subject gets a fresh page. */
let pageHung = false;

let sizes: BundleSize[] = [];
let sync: SyncLatency | undefined;
try {
  let page = await openPage();
  for (const subject of only) {
    console.log(`[bench:browser] ${subject}`);
    if (pageHung) {
      await closePage(page);
      page = await openPage();
      pageHung = false;
    }
    if (!(await page.evaluate(() => globalThis.koruBench.isolated()))) problems.push('the page is not cross-origin isolated: its clock has 100 µs resolution');
    await row(subject, 'put', () => page.evaluate(([s, t]) => globalThis.koruBench.putSingle(s, t), [subject, SECONDS] as const), 'single awaited put of a new key, ~200-byte document');
    if (subject === 'koru') {
      koruMode = await page.evaluate(() => globalThis.koruBench.mode());
      koruAdapter = await page.evaluate(() => globalThis.koruBench.adapter());
    }
    if (pageHung) continue;
    await row(subject, `batched put`, () => page.evaluate(([s, b, t]) => globalThis.koruBench.putBatch(s, b, t), [subject, BATCH, SECONDS] as const), `${BATCH.toLocaleString('en-US')} new keys a call: ${subject === 'koru' ? 'putMany' : subject === 'dexie' ? 'bulkPut' : 'bulkDocs'}`);
    if (pageHung) continue;
    await row(
      subject,
      'get',
      async () => {
        const r = await page.evaluate(([s, t]) => globalThis.koruBench.getCached(s, t), [subject, SECONDS] as const);
        if (!r.checked) throw new Error('get returned a wrong value');
        return r;
      },
      'awaited get of one key read just before, in a loop',
    );
    if (pageHung) continue;
    if (subject === 'koru' && koruMode === 'memory') {
      skipped.push('KoruDelta open + first get: the in-memory build keeps nothing across pages');
      continue;
    }
    console.log('[bench:browser]   open + first get');
    try {
      const name = `open-${subject}-${Date.now()}`;
      // Filled by a page of its own, then closed: the database is let go of even when its
      // close() hangs, as when a tab goes away.
      const filler = await openPage();
      const filled = await withTimeout(`${subject} fill`, filler.evaluate(([s, n, k, v]) => globalThis.koruBench.fill(s, n, k, v), [subject, name, OPEN_KEYS, OPEN_VERSIONS] as const), 900_000);
      await closePage(filler);
      const ms: number[] = [];
      const openMs: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        const fresh = await openPage();
        const key = `k${(r * 7919) % OPEN_KEYS}`;
        const got = await withTimeout(`${subject} open + first get`, fresh.evaluate(([s, n, k]) => globalThis.koruBench.openFirstGet(s, n, k), [subject, name, key] as const));
        if (got.v !== OPEN_VERSIONS - 1) problems.push(`${subject} open + first get: read v=${got.v}, expected ${OPEN_VERSIONS - 1}`);
        ms.push(got.ms);
        if (got.openMs !== undefined) openMs.push(got.openMs);
        await closePage(fresh);
      }
      rows.push({ subject, operation: 'open + first get', value: median(ms), unit: 'ms', runs: ms, notes: `${(OPEN_KEYS * OPEN_VERSIONS).toLocaleString('en-US')} versions (${OPEN_KEYS.toLocaleString('en-US')} keys × ${OPEN_VERSIONS}) written in ${filled.seconds.toFixed(1)} s by another page; a fresh page opens the database and reads one key's current version${subject === 'dexie' ? ' (a versioned table, [key+v] primary key: the last row of the key)' : subject === 'pouchdb' ? ' (one document with 10 revisions per key)' : ''}${openMs.length > 0 ? `; of which \`start({ path })\` ${median(openMs).toFixed(1)} ms (median)` : ''}` });
    } catch (e) {
      problems.push(`${subject} open + first get: ${String(e)}`);
      if (String(e).includes('no answer within')) pageHung = true;
    }
  }
  await closePage(page);
  if (closeHangs > 0) problems.push(`KoruDelta: ${closeHangs} close() call(s) did not resolve within 10 s (the bench went on without waiting)`);
  if (only.includes('koru')) {
    pageHung = false;
    console.log('[bench:browser] server → browser change latency');
    try {
      try {
        sync = await measureSyncLatency(site.origin, openPage, SYNC_CHANGES, true);
      } catch (e) {
        // The persistent handle may not run a sync yet: measure the wire and the apply
        // path on an in-memory database instead, labelled as such.
        skipped.push(`KoruDelta server → browser latency on the persistent database: ${String(e).split('\n')[0]}; measured on an in-memory database instead`);
        sync = await measureSyncLatency(site.origin, openPage, SYNC_CHANGES, false);
      }
    } catch (e) {
      problems.push(`KoruDelta server → browser latency: ${String(e)}`);
    }
  }
  console.log('[bench:browser] bundle sizes');
  sizes = await bundleSizes(only);
  if (only.includes('koru')) sizes.push(...(await bundlerSizes()));
} finally {
  await chromiumProfile.close();
  await site.close();
}

const results: BrowserResults = {
  machine: { ...machine, chromium: chromiumVersion },
  koruMode: koruMode ?? 'not run',
  ...(koruAdapter !== undefined ? { koruAdapter } : {}),
  config: { quick, secondsPerRun: SECONDS, runs: RUNS, batch: BATCH, openKeys: OPEN_KEYS, openVersions: OPEN_VERSIONS, syncChanges: SYNC_CHANGES },
  versions: await versions(),
  rows,
  ...(sync?.latenciesMs !== undefined ? { sync } : {}),
  sizes,
  problems,
  skipped,
  durationSeconds: (performance.now() - started) / 1000,
};
const name = quick || only.length < SUBJECTS.length ? 'browser-partial' : `browser-${machine.date.slice(0, 10)}`;
const outDir = join(BENCH_DIR, 'results');
await mkdir(outDir, { recursive: true });
const markdown = toMarkdown(results);
await writeFile(join(outDir, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
await writeFile(join(outDir, `${name}.md`), markdown);
console.log(`\n${markdown}\nWrote results/${name}.json and results/${name}.md.`);
if (problems.length > 0) process.exitCode = 1;

/** Versions of the packages measured, from the page bundle's own exports. */
async function versions(): Promise<Record<string, string>> {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const read = (pkg: string): string => (require(`${pkg}/package.json`) as { version: string }).version;
  return { '@koru/delta': read('@koru/delta'), dexie: read('dexie'), 'pouchdb-browser': read('pouchdb-browser') };
}
