// Reclaiming large values on disk (FileAdapter: merges in the worker thread, which must
// know the reclaim filter): after compact() the bytes of the values retention cut are
// in no file, the counters count what is left and survive reopening, and writes of the
// same large value racing the worker's merge all keep their value.
import { CausalStorage } from '@koru/storage';
import { FileAdapter } from '@koru/storage/node';
import { tempDir } from '@koru/vitest-preset/helpers';

import { afterEach, describe, expect, it } from 'vitest';
import { FileCapture } from './file-capture.js';
import { big } from './reclaim-helpers.js';
import { filesHolding } from './disk-helpers.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function newDir(): string {
  const { dir, cleanup } = tempDir('koru-reclaim-');
  cleanups.push(cleanup);
  return dir;
}

/** UTF-8 bytes of a value's canonical JSON text (the test's values have ASCII text and sorted keys). */
function textBytes(v: unknown): number {
  return Buffer.byteLength(JSON.stringify(v));
}

describe('reclaiming large values on disk', () => {
  it('compact() in the worker drops the values retention cut; the counters count what is left, after reopening too', async () => {
    const dir = newDir();
    let s = await CausalStorage.open({ adapter: new FileAdapter(dir) });
    await s.setRetention('docs', { lastVersions: 1 });
    const keys = 20;
    for (let round = 0; round < 3; round++) for (let k = 0; k < keys; k++) await s.put('docs', `k${k}`, big(`secret-${round}-${k}-`));
    await s.compact();
    let kept = 0;
    for (let k = 0; k < keys; k++) kept += textBytes(big(`secret-2-${k}-`));
    const expected = { distinctValues: keys, valueBytes: kept };
    const { distinctValues, valueBytes } = s.stats();
    expect({ distinctValues, valueBytes }).toEqual(expected);
    await s.close();
    expect(filesHolding(dir, 'secret-0-7-secret-0-7-')).toEqual([]);
    expect(filesHolding(dir, 'secret-1-7-secret-1-7-')).toEqual([]);
    expect(filesHolding(dir, 'secret-2-7-secret-2-7-').length).toBeGreaterThan(0);
    s = await CausalStorage.open({ adapter: new FileAdapter(dir) });
    expect({ distinctValues: s.stats().distinctValues, valueBytes: s.stats().valueBytes }).toEqual(expected);
    expect(s.get('docs', 'k7')).toEqual(big('secret-2-7-'));
    const report = await s.verify();
    expect(report.problems).toEqual([]);
    expect(report.values).toBe(keys);
    await s.close();
  });

  it('writes of a value the merge drops, made while the worker merges, keep it', async () => {
    const adapter = new FileCapture(newDir());
    const s = await CausalStorage.open({ adapter });
    const tree = adapter.tree!;
    await s.setRetention('docs', { lastVersions: 1 });
    // The value to race on: held only by a version retention cuts.
    await s.put('docs', 'k', big('raced-'));
    await s.put('docs', 'k', big('current-'));
    // Enough versions that the merge takes a while.
    const batch = [];
    for (let i = 0; i < 30_000; i++) batch.push({ namespace: 'fill', key: `f${i % 3000}`, value: { i, pad: 'p'.repeat(100) } });
    for (let i = 0; i < batch.length; i += 1000) await s.putMany(batch.slice(i, i + 1000));
    await tree.flush();
    await tree.idle();
    // Something for the compaction's flush to write, so its end can be seen.
    await s.put('fill', 'last', { last: true });
    const flushes = tree.stats().flushes;
    let done = false;
    const compacting = s.compact().finally(() => (done = true));
    // Once the compaction's flush is in, every write is outside the merge's inputs.
    while (tree.stats().flushes === flushes) await new Promise((r) => setTimeout(r, 1));
    let raced = 0;
    while (!done) {
      await s.put('race', `r${raced++}`, big('raced-'));
      await new Promise((r) => setTimeout(r, 2));
    }
    await compacting;
    expect(raced).toBeGreaterThan(1);
    for (let i = 0; i < raced; i++) expect(s.get('race', `r${i}`)).toEqual(big('raced-'));
    expect((await s.verify()).problems).toEqual([]);
    // Every fill version and the marker (kept: no policy there), and one large value each for docs/k and the racers.
    expect(s.stats().distinctValues).toBe(30_000 + 1 + 2);
    await s.compact();
    expect(s.get('race', 'r0')).toEqual(big('raced-'));
    expect((await s.verify()).problems).toEqual([]);
    await s.close();
  }, 60_000);
});
