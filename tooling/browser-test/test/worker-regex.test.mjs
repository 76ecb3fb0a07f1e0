// Regular expressions run in the database worker as on Node: RE2 semantics through re2js,
// inside the worker's own build, in queries with every flag, and a bad pattern refused.
import { describe, expect, it } from 'vitest';
import { available, openTab, useHarness, withContext } from './tabs-harness.mjs';

const suite = useHarness('worker-regex');

describe.skipIf(!available)('regular expressions in the database worker (Chromium)', () => {
  it('match with every flag, and a bad pattern is INVALID_QUERY', async () => {
    await withContext(suite.h, async (context) => {
      const { page } = await openTab(context, suite.h.origin);
      const got = await page.evaluate(async (p) => {
        const { KoruDelta } = globalThis.koru;
        const db = await KoruDelta.start({ path: p });
        await db.put('people', 'a', { name: 'Ada Lovelace', note: 'line one\nline two' });
        await db.put('people', 'b', { name: 'alan turing', note: 'x' });
        await db.put('people', 'c', { name: 'Grace', note: 'ab' });
        const keys = async (filter) => (await db.query('people', { filter })).rows.map((r) => r.key).sort();
        const out = {
          plain: await keys({ name: { $regex: '^A[a-z]+ L' } }),
          caseless: await keys({ name: { $regex: '^a', $options: 'i' } }),
          multiline: await keys({ note: { $regex: '^line two$', $options: 'm' } }),
          dotall: await keys({ note: { $regex: 'one.line', $options: 's' } }),
          noDotall: await keys({ note: { $regex: 'one.line' } }),
          unicode: await keys({ name: { $regex: '\\pL+ \\pL+', $options: 'u' } }),
        };
        try {
          await db.query('people', { filter: { name: { $regex: '(' } } });
          out.bad = 'accepted';
        } catch (e) {
          out.bad = e.code;
        }
        await db.close();
        return out;
      }, `worker-regex-${process.pid}`);
      expect(got).toEqual({
        plain: ['a'],
        caseless: ['a', 'b'],
        multiline: ['a'],
        dotall: ['a'],
        noDotall: [],
        unicode: ['a', 'b'],
        bad: 'INVALID_QUERY',
      });
    });
  });
});
