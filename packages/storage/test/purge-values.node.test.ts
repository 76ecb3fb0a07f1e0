// Purge erases the purged key's large values (stored once, out of line, in `X` records)
// unless another version still holds them: after purge + compact() a large secret's
// bytes are in no file, a large value shared with another key is still readable there,
// and verify is clean. The scan that finds other holders runs in slices; a version that
// commits meanwhile holding a candidate value keeps it.
import { CausalStorage } from '@koru/storage';
import { FileAdapter } from '@koru/storage/node';
import { tempDir } from '@koru/vitest-preset/helpers';

import { afterEach, describe, expect, it } from 'vitest';
import { dropUnsharedValues } from '../src/purge-values.js';
import { valueKey } from '../src/version-records.js';
import { TreeCapture } from './retention-helpers.js';
import { filesHolding } from './disk-helpers.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function newDir(): string {
  const { dir, cleanup } = tempDir('koru-purge-values-');
  cleanups.push(cleanup);
  return dir;
}

/** A value well over the 1 KiB inline limit, marked with `tag`. */
const large = (tag: string): { tag: string; pad: string } => ({ tag, pad: `${tag}:`.repeat(Math.ceil(3000 / (tag.length + 1))) });

describe('purge and large values on disk', () => {
  it('erases the purged key’s own large values and keeps one another key shares', async () => {
    const dir = newDir();
    let s = await CausalStorage.open({ adapter: new FileAdapter(dir) });
    const secret = 'SECRET-4b7e0c1d-large';
    const shared = 'SHARED-9a2f55e0-large';
    await s.put('people', 'ann', large(secret));
    await s.put('people', 'ann', large(shared));
    await s.put('people', 'ann', { small: true });
    await s.put('people', 'bob', large(shared));
    for (let i = 0; i < 50; i++) await s.put('other', `k${i}`, { i });
    await s.compact();
    expect(filesHolding(dir, secret).length).toBeGreaterThan(0);
    const r = await s.purge('people', 'ann');
    expect(r.removed).toHaveLength(3);
    await s.compact();
    expect(s.get('people', 'bob')).toEqual(large(shared));
    expect((await s.verify()).problems).toEqual([]);
    await s.close();
    expect(filesHolding(dir, secret)).toEqual([]);
    expect(filesHolding(dir, shared).length).toBeGreaterThan(0);
    // Reopened: the shared value still reads, verify still clean, and the erased value can be written again.
    s = await CausalStorage.open({ adapter: new FileAdapter(dir) });
    expect(s.get('people', 'bob')).toEqual(large(shared));
    await s.put('people', 'cy', large(secret));
    expect(s.get('people', 'cy')).toEqual(large(secret));
    expect((await s.verify()).problems).toEqual([]);
    await s.close();
  });
});

describe('dropUnsharedValues', () => {
  it('scans in slices, keeps a value a version committed during the scan holds, drops the rest', async () => {
    const adapter = new TreeCapture();
    const s = await CausalStorage.open({ adapter });
    const tree = adapter.tree!;
    const a = await s.put('x', 'a', large('A'));
    const b = await s.put('x', 'b', large('B'));
    for (let i = 0; i < 200; i++) await s.put('y', `k${i}`, { i });
    // As a purge of x/a and x/b would leave them: their versions gone, the value records still there.
    await s.purge('x', 'a');
    await s.purge('x', 'b');
    await s.put('x', 'a', large('A'));
    await s.put('x', 'b', large('B'));
    expect(tree.get(valueKey(a.valueId!))).toBeDefined();
    // Now x/a holds A again; B is erased, and only a write made during the scan will hold it.
    await s.purge('x', 'b');
    expect(tree.get(valueKey(b.valueId!))).toBeUndefined();
    let yields = 0;
    let wrote = false;
    // The tree of the built package (the store's) and the source module's type are the same class, built twice.
    const dropped = await dropUnsharedValues(tree as unknown as Parameters<typeof dropUnsharedValues>[0], new Set([a.valueId!, b.valueId!, 'f'.repeat(64)]), () => s.seq, {
      sliceMs: 0,
      yieldTo: async () => {
        yields++;
        if (!wrote) {
          wrote = true;
          // Sorts before every key the scan has left: only the change-feed check can see it.
          await s.put('a', 'early', large('B'));
        }
      },
    });
    expect(yields).toBeGreaterThan(10);
    expect(dropped).toEqual(['f'.repeat(64)]);
    expect(s.get('a', 'early')).toEqual(large('B'));
    expect(s.get('x', 'a')).toEqual(large('A'));
    expect((await s.verify()).problems).toEqual([]);
    await s.close();
  });
});
