/**
 * The base workload loaded into a durable store (Map: memory), its size on disk,
 * a check of the answers, then get, history and getAt on the reopened store.
 */
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SuiteContext } from '../context.js';
import { dirUsage, files } from '../files.js';
import { collectGarbage, median, perSecond, timedGetAts, timedGets, timedHistories, type Timed } from '../measure.js';
import type { VersionedStore } from '../subject.js';
import { NAMESPACE, SEED, chunk, makeEntries, prng, randomInts, type Doc } from '../workload.js';
import { durableOrMemory } from './puts.js';

const PICKS = 1 << 16;

/**
 * Loads versions round by round (all keys at v, then v + 1) in batches and returns the
 * wall-clock ms at the end of each round. Rounds are 2 ms apart, so `getAt(roundEnd[v])`
 * must answer exactly version v.
 */
export async function loadRounds(store: VersionedStore, names: readonly string[], versions: number, batchSize: number): Promise<Float64Array> {
  const roundEnd = new Float64Array(versions);
  for (let v = 0; v < versions; v++) {
    for (const batch of chunk(makeEntries(names, v, v + 1), batchSize)) {
      const r = store.putBatch(batch);
      if (r instanceof Promise) await r;
    }
    roundEnd[v] = Date.now();
    await sleep(2);
  }
  return roundEnd;
}

/** Checks a sample of keys: current value, whole history, and getAt at each round's end. Returns what is wrong. */
async function checkAnswers(store: VersionedStore, names: readonly string[], roundEnd: Float64Array): Promise<string[]> {
  const wrong: string[] = [];
  const versions = roundEnd.length;
  const sample = new Set<number>([0, names.length - 1]);
  for (let i = 1; i < 19; i++) sample.add(Math.floor((i * names.length) / 19));
  for (const k of sample) {
    const key = names[k]!;
    const current = (await store.get(NAMESPACE, key)) as Doc | undefined;
    if (current?.id !== key || current.v !== versions - 1) wrong.push(`get(${key}) returned ${JSON.stringify(current)?.slice(0, 80)}`);
    const history = await store.history(NAMESPACE, key);
    const seq = history.map((item) => (store.itemValue(item) as Doc | undefined)?.v);
    if (seq.length !== versions || seq.some((v, j) => v !== j)) wrong.push(`history(${key}) has versions [${seq.join(',')}]`);
    for (const v of [0, versions >> 1, versions - 1]) {
      const at = store.itemValue(await store.getAt(NAMESPACE, key, roundEnd[v]!)) as Doc | undefined;
      if (at?.v !== v) wrong.push(`getAt(${key}, end of round ${v}) returned version ${at?.v}`);
    }
  }
  return wrong;
}

async function readRow(ctx: SuiteContext, run: (budgetMs: number) => Promise<Timed>): Promise<{ rates: number[]; last: Timed }> {
  collectGarbage();
  let last = await run(ctx.config.warmupMs);
  const rates: number[] = [];
  for (let r = 0; r < ctx.config.runs; r++) {
    last = await run(ctx.config.readRunMs);
    rates.push(perSecond(last));
  }
  return { rates, last };
}

/** disk.base, then get / history / getAt rows. */
export async function readSection(ctx: SuiteContext): Promise<void> {
  const { config, names } = ctx;
  const durability = durableOrMemory(ctx);
  const durable = durability !== 'memory';
  const dir = durable ? await ctx.freshDir('base') : '';
  let store = await ctx.subject.open(dir, durability);
  const roundEnd = await loadRounds(store, names, config.versions, config.batchSize);
  const loadedStats = store.stats ? await store.stats() : undefined;
  let where = ctx.subject.describe(durability);
  if (durable) {
    await store.close();
    const usage = await dirUsage(dir);
    await ctx.emit(
      'disk.base',
      usage.bytes,
      'bytes',
      `${config.keys.toLocaleString('en-US')} keys × ${config.versions} versions after close(); ${files(usage.files)}, ${usage.allocated.toLocaleString('en-US')} bytes allocated${loadedStats ? `; stats ${JSON.stringify(loadedStats)}` : ''}`,
    );
    const t0 = performance.now();
    store = await ctx.subject.open(dir, durability);
    await store.get(NAMESPACE, names[0]!);
    where = `${ctx.subject.describe(durability)}, reopened (${(performance.now() - t0).toFixed(1)} ms), warm page cache`;
  }

  const wrong = await checkAnswers(store, names, roundEnd);
  if (wrong.length > 0) await ctx.problem(`wrong answers on the base workload: ${wrong.slice(0, 5).join('; ')}${wrong.length > 5 ? ` (+${wrong.length - 5} more)` : ''}`);

  const keyPicks = randomInts(PICKS, names.length, SEED + 1);
  const gets = await readRow(ctx, (ms) => timedGets(store, NAMESPACE, names, keyPicks, ms));
  await ctx.emit('get', median(gets.rates), 'ops/s', `${where}; one awaited get at a time; median of ${gets.rates.length} runs of ~${config.readRunMs} ms`, gets.rates);

  let calls = 0;
  const histories = await readRow(ctx, async (ms) => {
    const t = await timedHistories(store, NAMESPACE, names, keyPicks, ms);
    calls = t.calls;
    return t;
  });
  const callsPerSecond = (calls * 1000) / histories.last.ms;
  await ctx.emit(
    'history',
    median(histories.rates),
    'versions/s',
    `${where}; ${config.versions} versions per key; ${Math.round(callsPerSecond).toLocaleString('en-US')} history calls/s in the last run; median of ${histories.rates.length} runs`,
    histories.rates,
  );

  const timePicks = randomInts(PICKS, names.length, SEED + 2);
  const times = new Float64Array(PICKS);
  const rnd = prng(SEED + 3);
  const from = roundEnd[0]!;
  const span = roundEnd[config.versions - 1]! - from;
  for (let i = 0; i < PICKS; i++) times[i] = Math.floor(from + rnd() * span);
  const ats = await readRow(ctx, (ms) => timedGetAts(store, NAMESPACE, names, timePicks, times, ms));
  await ctx.emit(
    'getAt',
    median(ats.rates),
    'ops/s',
    `${where}; epoch-ms times uniform over the load (${span} ms wide); median of ${ats.rates.length} runs`,
    ats.rates,
  );

  await store.close();
  if (durable) await rm(dir, { recursive: true, force: true });
}
