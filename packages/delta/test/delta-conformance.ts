// The KoruDelta handle's conformance suite: every method, at the level of the handle,
// so one suite holds every store to the embedded engine's behaviour (the in-memory and
// durable embedded databases, and PostgreSQL). Not a test file itself: a store's test
// file calls runDeltaConformance with a factory of fresh, empty databases.
// Single keys are in ./delta-conformance-core.ts; queries, aggregates and views in
// ./delta-conformance-query.ts; the change feed, export/import and bad input in
// ./delta-conformance-feed.ts; factories and helpers in ./delta-conformance-support.ts.
import { afterEach, beforeEach, describe } from 'vitest';
import type { KoruDelta } from '@koru/delta';
import { coreConformance } from './delta-conformance-core.js';
import { feedConformance } from './delta-conformance-feed.js';
import { queryConformance } from './delta-conformance-query.js';
import { openMemory, type ConformanceContext, type DeltaConformanceOptions, type OpenDelta, type OpenedDelta } from './delta-conformance-support.js';

export { openDurable, openMemory, type ConformanceContext, type DeltaConformanceOptions, type OpenDelta, type OpenedDelta } from './delta-conformance-support.js';

/**
 * Registers the conformance suite for one kind of database. `open` gives a fresh, empty
 * database for each test (the suite disposes of it after the test).
 */
export function runDeltaConformance(name: string, open: OpenDelta, options: DeltaConformanceOptions = {}): void {
  describe(`KoruDelta conformance: ${name}`, () => {
    const opened: OpenedDelta[] = [];
    let current: KoruDelta | undefined;
    const ctx: ConformanceContext = {
      db: () => current!,
      fresh: async (o = open) => {
        const x = await o();
        opened.push(x);
        return x.db;
      },
      importInto: [[name, open], ...(options.importInto ?? [['memory', openMemory] as const])],
    };
    beforeEach(async () => {
      current = await ctx.fresh();
    });
    afterEach(async () => {
      current = undefined;
      for (const o of opened.splice(0).reverse()) await o.dispose();
    });

    coreConformance(ctx);
    queryConformance(ctx);
    feedConformance(ctx);
  });
}
