/**
 * One step of the huge-database run (huge.ts), in a process of its own:
 * - `build`: loads keys × versions round by round in batches, durable default policy,
 *   and closes; reports the load time and the wall-clock span of the rounds (for getAt);
 * - `reopen`: a fresh process opens the database, reads one key (open + first get),
 *   then 10,000 random gets, histories and getAts of random keys, and reports the times
 *   and the resident memory over the same process before opening.
 * Run with --expose-gc; reports one message over IPC.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { sendToParent } from './child.js';
import { collectGarbage } from './measure.js';
import { loadSubject } from './load-subject.js';
import type { SubjectId } from './subject.js';
import { NAMESPACE, SEED, chunk, keyName, keyNames, makeEntries, prng, randomInts, type Doc } from './workload.js';

/** Arguments of huge-child.ts. */
export interface HugeChildArgs {
  readonly subject: SubjectId;
  readonly mode: 'build' | 'reopen';
  readonly dir: string;
  readonly keys: number;
  readonly versions: number;
  readonly batchSize: number;
  /** reopen: the wall-clock span of the rounds the build wrote (getAt times fall in it) */
  readonly span?: { readonly from: number; readonly to: number };
  /** reopen: random reads of each kind */
  readonly reads?: number;
}

/** What `build` reports. */
export interface HugeBuildReport {
  readonly loadMs: number;
  readonly closeMs: number;
  readonly span: { readonly from: number; readonly to: number };
}

/** What `reopen` reports. */
export interface HugeReopenReport {
  readonly openMs: number;
  readonly getsPerSecond: number;
  readonly historyVersionsPerSecond: number;
  readonly historyCallsPerSecond: number;
  readonly getAtsPerSecond: number;
  readonly baselineRss: number;
  /** Resident memory right after open + the 10,000 random gets (settled): the workload the RSS target names. */
  readonly rssAfterGets: number;
  readonly rss: number;
  readonly peakRss: number;
}

async function settle(): Promise<void> {
  collectGarbage();
  await sleep(50);
  collectGarbage();
}

const args = JSON.parse(process.argv[2]!) as HugeChildArgs;
const subject = await loadSubject(args.subject);

if (args.mode === 'build') {
  const names = keyNames(args.keys);
  const store = await subject.open(args.dir, 'default');
  // getAt times start at the end of the first round, when every key has a version.
  let from = 0;
  const t0 = performance.now();
  for (let v = 0; v < args.versions; v++) {
    for (const batch of chunk(makeEntries(names, v, v + 1), args.batchSize)) {
      const r = store.putBatch(batch);
      if (r instanceof Promise) await r;
    }
    if (v === 0) from = Date.now();
    // Rounds 2 ms apart, as the base workload, so a time inside the span names one version.
    await sleep(2);
  }
  const loadMs = performance.now() - t0;
  const to = Date.now();
  const c0 = performance.now();
  await store.close();
  const report: HugeBuildReport = { loadMs, closeMs: performance.now() - c0, span: { from, to } };
  await sendToParent(report);
  process.exit(0);
}

const reads = args.reads ?? 10_000;
await settle();
const baselineRss = process.memoryUsage().rss;
const t0 = performance.now();
const store = await subject.open(args.dir, 'default');
const first = (await store.get(NAMESPACE, keyName(0))) as Doc | undefined;
const openMs = performance.now() - t0;
if (first?.v !== args.versions - 1) throw new Error(`first get returned ${JSON.stringify(first)?.slice(0, 80)}`);

// Distinct seeds per kind: each kind reads keys the others did not warm (mostly).
const getPicks = randomInts(reads, args.keys, SEED + 11);
let g0 = performance.now();
for (let i = 0; i < reads; i++) {
  const k = getPicks[i]!;
  let r = store.get(NAMESPACE, keyName(k));
  if (r instanceof Promise) r = await r;
  if ((r as Doc | undefined)?.id !== keyName(k)) throw new Error(`get(${keyName(k)}) returned a wrong document`);
}
const getsPerSecond = (reads * 1000) / (performance.now() - g0);
await settle();
const rssAfterGets = process.memoryUsage().rss;

const historyCalls = Math.max(1, Math.floor(reads / 10));
const historyPicks = randomInts(historyCalls, args.keys, SEED + 12);
let versionsRead = 0;
g0 = performance.now();
for (let i = 0; i < historyCalls; i++) {
  let r = store.history(NAMESPACE, keyName(historyPicks[i]!));
  if (r instanceof Promise) r = await r;
  if (r.length !== args.versions) throw new Error(`history(${keyName(historyPicks[i]!)}) has ${r.length} versions, not ${args.versions}`);
  versionsRead += r.length;
}
const historyMs = performance.now() - g0;

const span = args.span!;
const atPicks = randomInts(reads, args.keys, SEED + 13);
const rnd = prng(SEED + 14);
g0 = performance.now();
for (let i = 0; i < reads; i++) {
  const when = Math.floor(span.from + rnd() * (span.to - span.from));
  let r = store.getAt(NAMESPACE, keyName(atPicks[i]!), when);
  if (r instanceof Promise) r = await r;
  if (r === undefined) throw new Error(`getAt(${keyName(atPicks[i]!)}, ${when}) found nothing`);
}
const getAtsPerSecond = (reads * 1000) / (performance.now() - g0);

await settle();
const report: HugeReopenReport = {
  openMs,
  getsPerSecond,
  historyVersionsPerSecond: (versionsRead * 1000) / historyMs,
  historyCallsPerSecond: (historyCalls * 1000) / historyMs,
  getAtsPerSecond,
  baselineRss,
  rssAfterGets,
  rss: process.memoryUsage().rss,
  peakRss: process.resourceUsage().maxRSS * 1024,
};
await sendToParent(report);
await store.close();
process.exit(0);
