/**
 * The large database (largeKeys × largeVersions, 1,000,000 versions in the full run):
 * build time, size on disk, reopen time (KoruDelta: by log replay, then after
 * compact()), and resident memory of a process that reopened it.
 */
import { rm } from 'node:fs/promises';
import { runChild } from '../child.js';
import { cliRows } from './cli.js';
import type { SuiteContext } from '../context.js';
import { dirFingerprint, dirUsage, files } from '../files.js';
import { collectGarbage, median } from '../measure.js';
import type { MemoryReport } from '../rows.js';
import { NAMESPACE, chunk, currentJsonBytes, keyNames, makeEntries } from '../workload.js';

/** Arguments of `memory-child.ts`. */
export interface MemoryChildArgs {
  readonly subject: string;
  /** reopen: open the database in `dir`; load: build it in memory (Map) */
  readonly mode: 'reopen' | 'load';
  readonly dir: string;
  readonly keys: number;
  readonly versions: number;
  readonly batchSize: number;
}

const REOPEN_REPEAT_UNDER_MS = 3_000;

/** Reopens `dir` up to `runs` times (once if slow, or if a reopen changed the files). Returns ms per reopen. */
async function timeReopens(ctx: SuiteContext, dir: string, firstKey: string, runs: number): Promise<{ times: number[]; note: string }> {
  const times: number[] = [];
  let note = '';
  for (let r = 0; r < runs; r++) {
    const before = await dirFingerprint(dir);
    collectGarbage();
    const t0 = performance.now();
    const store = await ctx.subject.open(dir, 'default');
    await store.get(NAMESPACE, firstKey);
    times.push(performance.now() - t0);
    await store.close();
    if ((await dirFingerprint(dir)) !== before) {
      note = '; stopped repeating: open/close changed the files';
      break;
    }
    if (times[0]! > REOPEN_REPEAT_UNDER_MS) break;
  }
  return { times, note: `${times.length > 1 ? `median of ${times.length}` : 'single run'}, warm page cache${note}` };
}

async function memoryRows(ctx: SuiteContext, args: MemoryChildArgs, what: string): Promise<void> {
  let report: MemoryReport | undefined;
  const exit = await runChild('./memory-child.ts', args, (m) => (report = m as MemoryReport), ctx.config.subjectTimeoutMs);
  if (report === undefined) {
    await ctx.problem(`memory child failed (exit ${exit.code ?? exit.signal}${exit.timedOut ? ', timed out' : ''})`);
    return;
  }
  const versions = args.keys * args.versions;
  const historical = versions - args.keys;
  const rawCurrent = currentJsonBytes(args.keys, args.versions);
  const delta = report.rss - report.baselineRss;
  const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
  await ctx.emit('rss.large', report.rss, 'bytes', `${what}; process.memoryUsage().rss after gc; heapUsed ${mb(report.heapUsed)}, external ${mb(report.external)}`);
  await ctx.emit('rss.large.delta', delta, 'bytes', `rss minus the same process before opening (${mb(report.baselineRss)}: node + tsx + the library loaded)`);
  await ctx.emit('rss.large.peak', report.peakRss, 'bytes', `process.resourceUsage().maxRSS; ${args.mode === 'load' ? 'load' : 'open + first get'} took ${report.openMs.toFixed(0)} ms in the child`);
  await ctx.emit(
    'rss.large.perVersion',
    Math.max(0, delta - 2 * rawCurrent) / historical,
    'B/version',
    `(rss over bare process − 2 × ${rawCurrent.toLocaleString('en-US')} B raw JSON of current values) / ${historical.toLocaleString('en-US')} historical versions`,
  );
}

/** load.large, disk.large(.compacted), reopen.large(.replay), rss.large.* */
export async function largeSection(ctx: SuiteContext): Promise<void> {
  const { config, subject } = ctx;
  const names = keyNames(config.largeKeys);
  const shape = `${config.largeKeys.toLocaleString('en-US')} keys × ${config.largeVersions} versions`;
  const memoryArgs = { subject: subject.id, keys: config.largeKeys, versions: config.largeVersions, batchSize: config.batchSize };

  if (!subject.supports('default')) {
    await memoryRows(ctx, { ...memoryArgs, mode: 'load', dir: '' }, `${shape} loaded into memory with batches (no disk form)`);
    return;
  }

  const dir = await ctx.freshDir('large');
  let store = await subject.open(dir, 'default');
  let ms = 0;
  for (let v = 0; v < config.largeVersions; v++) {
    for (const batch of chunk(makeEntries(names, v, v + 1), config.batchSize)) {
      const t0 = performance.now();
      const r = store.putBatch(batch);
      if (r instanceof Promise) await r;
      ms += performance.now() - t0;
    }
  }
  const built = store.stats ? await store.stats() : undefined;
  const t0 = performance.now();
  await store.close();
  const closeMs = performance.now() - t0;
  const total = config.largeKeys * config.largeVersions;
  await ctx.emit(
    'load.large',
    (total * 1000) / ms,
    'versions/s',
    `${shape}, batches of ${config.batchSize}, ${subject.describe('default')}; timed batches only (${(ms / 1000).toFixed(1)} s), close() took ${closeMs.toFixed(0)} ms${built ? `; stats ${JSON.stringify(built)}` : ''}`,
  );
  const usage = await dirUsage(dir);
  const compacts = typeof store.compact === 'function';
  await ctx.emit(
    'disk.large',
    usage.bytes,
    'bytes',
    `${shape} after close()${compacts ? ', before compact()' : ''}; ${files(usage.files)}, ${usage.allocated.toLocaleString('en-US')} bytes allocated`,
  );

  if (compacts) {
    const replay = await timeReopens(ctx, dir, names[0]!, config.runs);
    await ctx.emit('reopen.large.replay', median(replay.times), 'ms', `${shape}, no snapshot: open replays the log, then one get; ${replay.note}`, replay.times);
    store = await subject.open(dir, 'default');
    const c0 = performance.now();
    await store.compact!();
    const compactMs = performance.now() - c0;
    await store.close();
    const compacted = await dirUsage(dir);
    await ctx.emit(
      'disk.large.compacted',
      compacted.bytes,
      'bytes',
      `${shape} after compact() (${(compactMs / 1000).toFixed(1)} s) and close(); ${files(compacted.files)}, ${compacted.allocated.toLocaleString('en-US')} bytes allocated`,
    );
  }
  const reopen = await timeReopens(ctx, dir, names[0]!, config.runs);
  await ctx.emit(
    'reopen.large',
    median(reopen.times),
    'ms',
    `${shape}${compacts ? ', after compact()' : ''}: open + one get; ${reopen.note}`,
    reopen.times,
  );

  await memoryRows(ctx, { ...memoryArgs, mode: 'reopen', dir }, `${shape}${compacts ? ' after compact()' : ''}, reopened in a fresh process + one get`);
  if (subject.id === 'koru') await cliRows(ctx, dir, NAMESPACE, names[0]!, config.largeKeys * config.largeVersions);
  await rm(dir, { recursive: true, force: true });
}
