/**
 * `pnpm --filter @koru/bench bench:engine`: KoruDelta's storage engine on its own (the
 * LsmTree: sorted keys → bytes, before the version store sits on it) side by side with
 * better-sqlite3 and lmdb, every store given the same entries (engine-workload.ts).
 *
 *   tsx src/engine-bench.ts [--quick | --large] [--only koru,sqlite,lmdb]
 *
 * 1,000,000 entries by default; --large adds a second database of 10,000,000; --quick
 * runs 100,000 only (a smoke test, < 1 min). Each store is built by a child process, then
 * every read and write figure comes from fresh child processes on the built store
 * (engine-child.ts). Writes results/engine-<date>.json (engine-<date>-large.json with
 * --large; quick or partial runs:
 * results/tmp/engine-<date>-quick.json, results/engine-<date>-partial.json, both
 * git-ignored) and prints a table with the ratios KoruDelta / peer.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { BENCH_DIR, runChild, scratchRun } from './child.js';
import type { PhaseArgs, PhaseReport } from './engine-child.js';
import { ENGINE_OPERATIONS, engineTable, type EngineOperation, type EngineRow } from './engine-report.js';
import { STORE_IDS, STORE_LABELS, loadStore, type StoreId } from './engine-store.js';
import { KEY_BYTES, VALUE_BYTES, shapeOf } from './engine-workload.js';
import { dirUsage } from './files.js';
import { measureFdatasync } from './fsync-bound.js';
import { machineInfo } from './machine.js';
import { median } from './measure.js';
import { SEED } from './workload.js';

const USAGE = 'usage: tsx src/engine-bench.ts [--quick | --large] [--only koru,sqlite,lmdb]';

interface Options {
  readonly sizes: readonly number[];
  readonly quick: boolean;
  readonly stores: readonly StoreId[];
}

function parseArgs(argv: readonly string[]): Options {
  let quick = false;
  let large = false;
  let stores: StoreId[] = [...STORE_IDS];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--large') large = true;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const list = arg === '--only' ? argv[++i] : arg.slice('--only='.length);
      const ids = (list ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
      for (const id of ids) if (!(STORE_IDS as readonly string[]).includes(id)) throw new Error(`unknown store ${JSON.stringify(id)} (known: ${STORE_IDS.join(', ')})\n${USAGE}`);
      stores = STORE_IDS.filter((s) => ids.includes(s));
    } else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  if (quick && large) throw new Error(`--quick and --large exclude each other\n${USAGE}`);
  return { quick, stores, sizes: quick ? [100_000] : large ? [1_000_000, 10_000_000] : [1_000_000] };
}

const options = parseArgs(process.argv.slice(2));

/** How much each phase does, and how often fresh processes repeat it (fewer with --quick: a smoke test). */
const RUNS = options.quick ? { reads: 3, scans: 2 } : { reads: 5, scans: 3 };
const GETS = 10_000;
const SCAN_NAMES = 1_000;
const SINGLE_PUTS = 1_000;

const started = performance.now();
const machine = machineInfo();
const { root, cleanUp } = await scratchRun('koru-engine-bench-');
/** What one durable write costs at least here: a 4 KiB append + fdatasync. */
const fsyncBound = measureFdatasync(root, 200);
const rows: EngineRow[] = [];
const problems: string[] = [];
const versions: Partial<Record<StoreId, string>> = {};
const log = (line: string): void => void process.stderr.write(`engine bench: ${line}\n`);

/** RSS of a bare `node -e` process, for the notes. */
function bareNodeRss(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.memoryUsage().rss))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

/** Runs one phase in a fresh child; undefined (and a problem noted) when it failed. */
async function phase<P extends PhaseReport['phase']>(args: PhaseArgs & { phase: P }, timeoutMs: number): Promise<Extract<PhaseReport, { phase: P }> | undefined> {
  let report: PhaseReport | undefined;
  const exit = await runChild(
    'engine-child.ts',
    args,
    (m) => {
      const msg = m as { type: string; report?: PhaseReport; message?: string };
      if (msg.type === 'report') report = msg.report;
      else if (msg.type === 'problem') problems.push(msg.message ?? 'unknown problem');
    },
    timeoutMs,
  );
  if (exit.timedOut) problems.push(`${args.store} ${args.phase}: timed out after ${timeoutMs / 60_000} min`);
  else if (exit.code !== 0 && report === undefined) problems.push(`${args.store} ${args.phase}: exited with ${exit.code ?? exit.signal}`);
  return report as Extract<PhaseReport, { phase: P }> | undefined;
}

const mb = (b: number): string => `${(b / 1e6).toFixed(1)} MB`;
const int = (n: number): string => n.toLocaleString('en-US');

async function benchStore(store: StoreId, entries: number): Promise<void> {
  const shape = shapeOf(entries);
  const dir = join(root, `${store}-${entries}`);
  await mkdir(dir, { recursive: true });
  const emit = (operation: EngineOperation, value: number, notes: string, runs?: readonly number[]): void => {
    const unit = ENGINE_OPERATIONS.find((o) => o.id === operation)!.unit;
    rows.push({ entries, subject: store, operation, value, unit, notes, ...(runs === undefined ? {} : { runs }) });
  };
  const scale = entries / 1_000_000;
  const minutes = (m: number): number => Math.max(5, m * scale) * 60_000;
  const base = { store, dir, shape, seed: SEED, gets: GETS, scanNames: SCAN_NAMES, singlePuts: SINGLE_PUTS, batches: Math.min(100, entries / 1000 / 5) };
  const t0 = performance.now();

  const loaded = await phase({ ...base, phase: 'load' }, minutes(40));
  if (loaded === undefined) return;
  const desc = `${int(shape.names)} names × ${shape.rounds} versions`;
  emit('load.rate', (loaded.entries * 1000) / loaded.writeMs, `${desc}, round by round in clock order, batches of 1,000; fresh store; key generation included`);
  emit('load.time', loaded.writeMs / 1000, loaded.engine === undefined ? '' : `engine after the writes: ${JSON.stringify(loaded.engine)}`);
  if (store === 'koru') emit('load.settle', loaded.settleMs / 1000, 'the merges the load left behind, run to the end in the worker before closing');
  emit('load.close', loaded.closeMs, '');
  const disk = await dirUsage(dir);
  emit('disk', disk.bytes, `${disk.files} files, ${mb(disk.allocated)} allocated; raw data ${mb(entries * (KEY_BYTES + VALUE_BYTES))}`);
  emit('disk.perEntry', disk.bytes / entries, '');
  log(`${store} ${int(entries)}: loaded in ${(loaded.writeMs / 1000).toFixed(1)} s + close ${loaded.closeMs.toFixed(0)} ms, ${mb(disk.bytes)}`);

  const readRuns: Extract<PhaseReport, { phase: 'reads' }>[] = [];
  for (let run = 0; run < RUNS.reads; run++) {
    const r = await phase({ ...base, phase: 'reads', seed: SEED + 1 + run }, minutes(5));
    if (r !== undefined) readRuns.push(r);
  }
  if (readRuns.length > 0) {
    const of = (f: (r: (typeof readRuns)[number]) => number): number[] => readRuns.map(f);
    const open = of((r) => r.openFirstGetMs);
    const cold = of((r) => (r.gets * 1000) / r.coldMs);
    const cached = of((r) => (r.gets * 1000) / r.cachedMs);
    const rss = of((r) => r.rss - r.baselineRss);
    const runs = `median of ${readRuns.length} fresh processes`;
    emit('open.firstGet', median(open), `${runs}; from before open to the first answer (library already loaded); the open alone: median ${median(of((r) => r.openMs)).toFixed(2)} ms`, open);
    emit('rss.delta', median(rss), `${runs}; RSS after open + ${int(GETS)} random gets twice + gc, minus the same process before open (node + tsx + the library: ${mb(median(of((r) => r.baselineRss)))}; a bare node -e: ${mb(bareNodeRss())})${readRuns[0]!.engine === undefined ? '' : `; engine: ${JSON.stringify(readRuns[0]!.engine)}`}`, rss);
    emit('get.cold', median(cold), `${runs}; ${int(GETS)} random (name, version) keys, every answer checked; OS page cache as the load left it`, cold);
    emit('get.cached', median(cached), `${runs}; the same ${int(GETS)} keys again in the same process`, cached);
  }

  const scanRuns: Extract<PhaseReport, { phase: 'scans' }>[] = [];
  for (let run = 0; run < RUNS.scans; run++) {
    const r = await phase({ ...base, phase: 'scans', seed: SEED + 100 + run }, minutes(5));
    if (r !== undefined) scanRuns.push(r);
  }
  if (scanRuns.length > 0) {
    const cold = scanRuns.map((r) => (r.entries * 1000) / r.coldMs);
    const warm = scanRuns.map((r) => (r.entries * 1000) / r.warmMs);
    const what = `${int(Math.min(SCAN_NAMES, shape.names))} random names × ${shape.rounds} versions, key and value of each, checked; median of ${scanRuns.length} fresh processes`;
    emit('scan.cold', median(cold), what, cold);
    emit('scan.warm', median(warm), `${what}; the same names again`, warm);
  }

  const d = await phase({ ...base, phase: 'durable' }, minutes(10));
  if (d !== undefined) {
    const puts = `${int(d.single.count)} puts of new versions, one at a time (the event loop turned between them), after 50 untimed`;
    emit('put.durable.p50', d.single.p50, `${puts}; the file system's bound, 4 KiB append + fdatasync: median ${fsyncBound.medianMs.toFixed(2)} ms, p90 ${fsyncBound.p90Ms.toFixed(2)} ms`);
    emit('put.durable.p99', d.single.p99, `max ${d.single.max.toFixed(2)} ms`);
    emit('put.durable.loopMax', d.single.loopMax, `p99 ${d.single.loopP99.toFixed(2)} ms (monitorEventLoopDelay, 1 ms resolution); a synchronous fsync blocks the loop`);
    emit('putBatch.durable', (d.batchEntries * 1000) / d.batchMs, `${int(d.batchEntries / 1000)} batches of 1,000 new versions into the loaded store, each durable before the next`);
  }

  if (store === 'koru') {
    const c = await phase({ ...base, phase: 'compact' }, minutes(30));
    if (c !== undefined) {
      emit('put.merge.p50', c.during.p50, `${int(c.during.count)} durable puts (sync 'always') one at a time while compact() merged every segment in its worker`);
      emit('put.merge.p99', c.during.p99, `max ${c.during.max.toFixed(2)} ms`);
      emit('put.merge.loopMax', c.during.loopMax, `p99 ${c.during.loopP99.toFixed(2)} ms; compare the idle puts' row`);
      emit('merge.time', c.mergeMs / 1000, 'compact(): flush, then one merge of every segment into one sorted run');
      emit('merge.quiet.loopMax', c.quietLoopMax, 'the second compact(), nothing else running on the main thread');
      emit('merge.quiet.time', c.quietMergeMs / 1000, `engine after: ${JSON.stringify(c.engine)}`);
      const after = await dirUsage(dir);
      const extra = 50 + (d === undefined ? 0 : d.single.count + 50 + d.batchEntries) + c.during.count;
      emit('disk.compacted', after.bytes, `${after.files} files; ${int(entries + extra)} entries: the load's, the durable phase's and those put during the merge`);
    }
  }
  log(`${store} ${int(entries)}: done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  await rm(dir, { recursive: true, force: true });
}

const partial = options.stores.length < STORE_IDS.length;
const date = new Date().toISOString().slice(0, 10);
const largeTag = options.sizes.length > 1 ? '-large' : '';
const file = options.quick ? join('results', 'tmp', `engine-${date}-quick.json`) : join('results', partial ? `engine-${date}${largeTag}-partial.json` : `engine-${date}${largeTag}.json`);

/** Writes the results so far (after every store, so a long run that is cut still leaves them); `complete` once all ran. */
async function save(complete: boolean): Promise<void> {
  await mkdir(join(BENCH_DIR, 'results', 'tmp'), { recursive: true });
  const results = {
    complete,
    machine: { ...machine, nproc: os.availableParallelism(), loadAverageEnd: os.loadavg(), fdatasync: fsyncBound },
    config: { sizes: options.sizes, stores: options.stores, gets: GETS, scanNames: SCAN_NAMES, singlePuts: SINGLE_PUTS, runs: RUNS, seed: SEED, keyBytes: KEY_BYTES, valueBytes: VALUE_BYTES },
    versions,
    durationMs: performance.now() - started,
    rows,
    problems,
  };
  await writeFile(join(BENCH_DIR, file), `${JSON.stringify(results, null, 2)}\n`);
}

try {
  for (const store of options.stores) {
    try {
      versions[store] = (await loadStore(store)).libraryVersion();
    } catch (e) {
      problems.push(`${STORE_LABELS[store]}: cannot load: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  log(`${os.availableParallelism()} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; stores: ${JSON.stringify(versions)}`);
  for (const entries of options.sizes) {
    for (const store of options.stores) {
      if (versions[store] === undefined) continue;
      await benchStore(store, entries);
      await save(false);
    }
  }
} finally {
  cleanUp();
}
const durationMs = performance.now() - started;
await save(true);

for (const entries of options.sizes) {
  console.log(`\n${int(entries)} entries (${int(shapeOf(entries).names)} names × ${shapeOf(entries).rounds} versions; key ${KEY_BYTES} B, value ${VALUE_BYTES} B)\n`);
  console.log(engineTable(rows, entries));
}
console.log(`\n${machine.cpu}, ${os.availableParallelism()} cores, node ${machine.node}; 4 KiB append + fdatasync ${fsyncBound.medianMs.toFixed(2)} ms (median); load average ${machine.loadAverage.toFixed(2)} at the start, ${os.loadavg()[0]!.toFixed(2)} at the end; ${(durationMs / 1000).toFixed(0)} s in all → ${file}`);
for (const [s, v] of Object.entries(versions)) console.log(`${STORE_LABELS[s as StoreId]}: ${v}`);
if (problems.length > 0) {
  console.log('\nProblems:');
  for (const p of problems) console.log(`- ${p}`);
  process.exitCode = 1;
}
