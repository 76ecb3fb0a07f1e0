// close() of a persistent browser database after bulk writes: it resolves (it used to wait
// for ever on an OPFS pool growth whose sync access handle Chromium left unresolved), and
// the same path opens again at once with everything written.
import { describe, expect, it } from 'vitest';
import { available, openTab, useHarness, withContext } from './tabs-harness.mjs';

const suite = useHarness('tabs-close');

describe.skipIf(!available)('closing a persistent browser database (Chromium)', () => {
  it('resolves after thousands of batched writes, and the database opens again with all of them', async () => {
    await withContext(suite.h, async (context) => {
      const { page, errors } = await openTab(context, suite.h.origin);
      const rounds = await page.evaluate(async (prefix) => {
        const { KoruDelta } = globalThis.koru;
        const timeout = (what) => new Promise((resolve) => setTimeout(() => resolve(`${what} did not resolve in 20 s`), 20_000));
        const out = [];
        for (let round = 0; round < 6; round++) {
          const path = `${prefix}-${round}`;
          const db = await KoruDelta.start({ path });
          for (let b = 0; b < 5; b++) {
            const items = [];
            for (let i = 0; i < 1000; i++) items.push({ namespace: 'bulk', key: `k${b}-${i}`, value: { s: 'x'.repeat(180), i } });
            await db.putMany(items);
          }
          const closed = await Promise.race([db.close().then(() => 'closed'), timeout('close')]);
          const again = await KoruDelta.start({ path });
          const keys = (await again.listKeys('bulk')).length;
          const reclosed = await Promise.race([again.close().then(() => 'closed'), timeout('close')]);
          out.push({ closed, keys, reclosed });
        }
        return out;
      }, `close-${process.pid}`);
      expect(rounds).toEqual(Array.from({ length: 6 }, () => ({ closed: 'closed', keys: 5000, reclosed: 'closed' })));
      expect(errors).toEqual([]);
    });
  });
});
