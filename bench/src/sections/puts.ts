/** put rows (memory, default policy, always with 1 and 64 writers) and the batched-put row. */
import { rm } from 'node:fs/promises';
import type { SuiteContext } from '../context.js';
import { batchedPuts, collectGarbage, concurrentPuts, median, perSecond, serialPuts, warmUpPuts, type Timed } from '../measure.js';
import type { OperationId } from '../rows.js';
import type { Durability } from '../subject.js';
import { WARMUP_NAMESPACE, chunk, makeEntries } from '../workload.js';

const WARMUP_OPS = 1_000;

function warmUpEntries(ctx: SuiteContext) {
  return makeEntries(ctx.names.slice(0, WARMUP_OPS), ctx.config.versions, ctx.config.versions + 1, WARMUP_NAMESPACE);
}

/**
 * One run: fresh documents, then passes of (fresh store, warm-up, puts in workload order)
 * until `runMs` of timed work. A store that finishes the whole workload sooner gets another
 * pass with a fresh store (up to `maxPasses`), so every run times a comparable stretch of
 * work. Passes of one run share the document objects (stores must not mutate them).
 */
async function putRun(ctx: SuiteContext, durability: Durability, writers: number): Promise<Timed & { passes: number }> {
  const { config } = ctx;
  const total = { ops: 0, ms: 0, passes: 0 };
  const entries = makeEntries(ctx.names, 0, config.versions);
  const warm = warmUpEntries(ctx);
  while (total.ms < config.runMs && total.passes < config.maxPasses) {
    total.passes++;
    const dir = durability === 'memory' ? '' : await ctx.freshDir('put');
    collectGarbage();
    const store = await ctx.subject.open(dir, durability);
    await warmUpPuts(store, warm, WARMUP_OPS, config.warmupMs);
    const budget = config.runMs - total.ms;
    const t =
      writers === 1
        ? await serialPuts(store, entries, budget, durability === 'memory' ? 256 : 1)
        : await concurrentPuts(store, entries, writers, budget);
    total.ops += t.ops;
    total.ms += t.ms;
    await store.close();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  }
  return total;
}

async function putRow(ctx: SuiteContext, operation: OperationId, durability: Durability, writers: number): Promise<void> {
  if (!ctx.subject.supports(durability)) return;
  const rates: number[] = [];
  let passes = 0;
  let ops = 0;
  for (let r = 0; r < ctx.config.runs; r++) {
    const t = await putRun(ctx, durability, writers);
    rates.push(perSecond(t));
    passes += t.passes;
    ops += t.ops;
  }
  const mode = writers === 1 ? 'one awaited put at a time' : `${writers} async writers, each awaiting its own puts`;
  await ctx.emit(
    operation,
    median(rates),
    'ops/s',
    `${ctx.subject.describe(durability)}; ${mode}; median of ${rates.length} runs of ~${ctx.config.runMs} ms (${ops.toLocaleString('en-US')} puts in ${passes} fresh-store passes)`,
    rates,
  );
}

/** The put rows this subject supports. */
export async function putSection(ctx: SuiteContext): Promise<void> {
  await putRow(ctx, 'put.memory', 'memory', 1);
  await putRow(ctx, 'put.default', 'default', 1);
  await putRow(ctx, 'put.always.1', 'always', 1);
  await putRow(ctx, 'put.always.64', 'always', ctx.config.writers);
}

/** Durability used where the brief says "a durable DB"; Map stays in memory as the ceiling. */
export function durableOrMemory(ctx: SuiteContext): Durability {
  return ctx.subject.supports('default') ? 'default' : 'memory';
}

/** Batches of `batchSize` into a fresh store, default policy (Map: memory). */
export async function batchSection(ctx: SuiteContext): Promise<void> {
  const { config } = ctx;
  const durability = durableOrMemory(ctx);
  const rates: number[] = [];
  let passes = 0;
  for (let r = 0; r < config.runs; r++) {
    const total = { ops: 0, ms: 0 };
    const batches = chunk(makeEntries(ctx.names, 0, config.versions), config.batchSize);
    const warm = warmUpEntries(ctx);
    for (let pass = 0; total.ms < config.runMs && pass < config.maxPasses; pass++) {
      passes++;
      const dir = durability === 'memory' ? '' : await ctx.freshDir('batch');
      collectGarbage();
      const store = await ctx.subject.open(dir, durability);
      const w = store.putBatch(warm);
      if (w instanceof Promise) await w;
      const t = await batchedPuts(store, batches, config.runMs - total.ms);
      total.ops += t.ops;
      total.ms += t.ms;
      await store.close();
      if (dir !== '') await rm(dir, { recursive: true, force: true });
    }
    rates.push(perSecond(total));
  }
  const how = ctx.subject.id === 'sqlite' ? 'one transaction per batch' : ctx.subject.id === 'koru' ? 'putMany per batch' : 'a loop of pushes per batch';
  await ctx.emit(
    'putBatch',
    median(rates),
    'versions/s',
    `${ctx.subject.describe(durability)}; batches of ${config.batchSize.toLocaleString('en-US')}, ${how}; base workload in version order; median of ${rates.length} runs (${passes} fresh-store passes)`,
    rates,
  );
}
