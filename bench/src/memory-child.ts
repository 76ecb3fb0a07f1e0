/**
 * Reads resident memory of a process holding the large database: baseline after the
 * library is loaded, then open (or, for Map, load) + one get, full gc, rss and peak.
 * Run with --expose-gc; reports one MemoryReport over IPC.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { sendToParent } from './child.js';
import { collectGarbage } from './measure.js';
import type { MemoryReport } from './rows.js';
import type { MemoryChildArgs } from './sections/large.js';
import { loadSubject } from './load-subject.js';
import type { SubjectId } from './subject.js';
import { NAMESPACE, chunk, keyName, keyNames, makeEntries } from './workload.js';

async function settle(): Promise<void> {
  collectGarbage();
  await sleep(50);
  collectGarbage();
}

const args = JSON.parse(process.argv[2]!) as MemoryChildArgs;
const subject = await loadSubject(args.subject as SubjectId);
const names = args.mode === 'load' ? keyNames(args.keys) : [];
await settle();
const baselineRss = process.memoryUsage().rss;

const t0 = performance.now();
const store = await subject.open(args.dir, args.mode === 'load' ? 'memory' : 'default');
if (args.mode === 'load') {
  for (let v = 0; v < args.versions; v++) {
    for (const batch of chunk(makeEntries(names, v, v + 1), args.batchSize)) {
      const r = store.putBatch(batch);
      if (r instanceof Promise) await r;
    }
  }
}
const first = await store.get(NAMESPACE, keyName(0));
const openMs = performance.now() - t0;
if (first === undefined) throw new Error('first get found nothing');
await settle();
const usage = process.memoryUsage();
const report: MemoryReport = {
  baselineRss,
  rss: usage.rss,
  peakRss: process.resourceUsage().maxRSS * 1024,
  heapUsed: usage.heapUsed,
  external: usage.external,
  openMs,
};
await sendToParent(report);
await store.close();
process.exit(0);
