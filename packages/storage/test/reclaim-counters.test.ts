// The store's value counters across merges' removals and kills: the manifest's
// `valuesRemoved` (written with a merge's outputs) less what the `C` record applied is
// taken off, so a kill between a merge's install and the next `C` record loses nothing
// and counts nothing twice; a store whose manifest lacks the property counts from `C`.
import { ErrorCodes } from '@koru/engine';
import { CausalStorage } from '@koru/storage';
import { describe, expect, it } from 'vitest';
import { InlineMergeRunner } from '../src/lsm/merge-runner.js';
import { LsmTree } from '../src/lsm/lsm-tree.js';
import { MemoryDirectory } from '../src/lsm/memory-directory.js';
import { decodeCounterRecord, StoreCounters } from '../src/store-counters.js';
import { VALUES_REMOVED } from '../src/value-reclaim.js';
import { big, HeldMergeAdapter, recount } from './reclaim-helpers.js';

function openTree(dir: MemoryDirectory): LsmTree {
  return LsmTree.open({ dir, flushRunner: new InlineMergeRunner(dir), autoMerge: false });
}

function counts(c: StoreCounters): [number, number] {
  return [c.values, c.textLength];
}

describe('StoreCounters with merges\' removals', () => {
  it('takes off what the manifest says merges removed, once, whether or not C was written after', async () => {
    const dir = new MemoryDirectory();
    let tree = openTree(dir);
    let c = new StoreCounters(tree);
    const added = c.change(5, new Map(), 10, 1000);
    tree.write(added.entries);
    added.apply();
    expect(counts(c)).toEqual([10, 1000]);
    // A merge's install: its removals in the manifest; the C record not written yet.
    tree.setProperties({ [VALUES_REMOVED]: [3, 300] });
    expect(counts(c)).toEqual([7, 700]);
    // Killed now: the next open has the old C record and the new manifest.
    await tree.close();
    tree = openTree(dir);
    c = new StoreCounters(tree);
    expect(counts(c)).toEqual([7, 700]);
    // Written: still 7 after the next open (not taken off twice).
    c.settle();
    await tree.close();
    tree = openTree(dir);
    c = new StoreCounters(tree);
    expect(counts(c)).toEqual([7, 700]);
    // A commit writes C too, with what it applied.
    const more = c.change(6, new Map(), 1, 50);
    tree.write(more.entries);
    more.apply();
    tree.setProperties({ [VALUES_REMOVED]: [5, 500] });
    expect(counts(c)).toEqual([6, 550]);
    // The same files under a manifest without the property (installed into another
    // store, whose manifest starts empty): C is taken as it is.
    tree.setProperties({});
    expect(counts(c)).toEqual([8, 750]);
    await tree.close();
  });

  it('a removal counted twice (a purge and a retention merge) reads 0 at worst and never refuses a commit', async () => {
    const dir = new MemoryDirectory();
    const tree = openTree(dir);
    const c = new StoreCounters(tree);
    const added = c.change(1, new Map(), 2, 100);
    tree.write(added.entries);
    added.apply();
    // The purge took its versions' values off (in its batch)…
    const purged = c.change(2, new Map(), -2, -100);
    tree.write(purged.entries);
    purged.apply();
    // …and a retention merge that had not seen the purge's records counted them too.
    tree.setProperties({ [VALUES_REMOVED]: [2, 100] });
    expect(counts(c)).toEqual([0, 0]);
    const next = c.change(3, new Map(), 1, 7);
    tree.write(next.entries);
    next.apply();
    expect(counts(c)).toEqual([1, 7]);
    expect(decodeCounterRecord(tree.get('C')!)).toMatchObject({ seq: 3, values: 1, textLength: 7 });
    await tree.close();
  });

  it('refuses a malformed property or record, and reads a record of three numbers as applying nothing', async () => {
    const dir = new MemoryDirectory();
    const tree = openTree(dir);
    tree.put('C', new Uint8Array([4, 2, 9]));
    const c = new StoreCounters(tree);
    expect([c.seq, ...counts(c)]).toEqual([4, 2, 9]);
    tree.setProperties({ [VALUES_REMOVED]: [1, 1.5] });
    expect(() => c.values).toThrow(expect.objectContaining({ code: ErrorCodes.CORRUPTION }));
    tree.setProperties({ [VALUES_REMOVED]: [3, -1] });
    // More removed than stored (a removal counted twice): 0, not a refusal.
    expect(counts(c)).toEqual([0, 10]);
    tree.setProperties({});
    tree.put('C', new Uint8Array([4, 2, 9, 0]));
    expect(() => new StoreCounters(tree)).toThrow(expect.objectContaining({ code: ErrorCodes.CORRUPTION }));
    await tree.close();
  });

  it('a store killed between a reclaiming install and its counter record counts right at the next open', async () => {
    const adapter = new HeldMergeAdapter();
    let s = await CausalStorage.open({ adapter });
    await s.setRetention('docs', { lastVersions: 1 });
    for (let i = 0; i < 4; i++) await s.put('docs', 'k', big(`v${i}-`));
    for (let i = 0; i < 4; i++) await s.put('docs', 'small', { i });
    const before = adapter.tree!.get('C')!.slice();
    await s.compact();
    const after = { distinctValues: s.stats().distinctValues, valueBytes: s.stats().valueBytes };
    expect(after).toEqual(recount(adapter.tree!));
    expect(after.distinctValues).toBe(2);
    // What a kill right after the install leaves: the new manifest, the C record from before.
    adapter.tree!.put('C', before);
    await s.close();
    s = await CausalStorage.open({ adapter });
    expect({ distinctValues: s.stats().distinctValues, valueBytes: s.stats().valueBytes }).toEqual(after);
    await s.put('docs', 'k', big('v9-'));
    await s.compact();
    expect({ distinctValues: s.stats().distinctValues, valueBytes: s.stats().valueBytes }).toEqual(recount(adapter.tree!));
    await s.close();
  });

  it('compact() sets counters that drifted from the records right (what the inputs\' counter record said is replaced by what the outputs hold)', async () => {
    const adapter = new HeldMergeAdapter();
    let s = await CausalStorage.open({ adapter });
    await s.setRetention('docs', { lastVersions: 1 });
    for (let i = 0; i < 3; i++) await s.put('docs', 'k', { i });
    await s.put('docs', 'big', big('A'));
    const right = recount(adapter.tree!);
    expect({ distinctValues: s.stats().distinctValues, valueBytes: s.stats().valueBytes }).toEqual(right);
    // Counters off by 5 values and 77 bytes (as a purge and a retention cut counting the same versions leave them).
    const c = decodeCounterRecord(adapter.tree!.get('C')!);
    adapter.tree!.put('C', new Uint8Array([...varint(c.seq), ...varint(c.values + 5), ...varint(c.textLength + 77), 0, 0]));
    await s.close();
    s = await CausalStorage.open({ adapter });
    expect(s.stats().distinctValues).toBe(right.distinctValues + 5);
    await s.compact();
    expect({ distinctValues: s.stats().distinctValues, valueBytes: s.stats().valueBytes }).toEqual(recount(adapter.tree!));
    expect(s.stats().distinctValues).toBe(2);
    await s.close();
    s = await CausalStorage.open({ adapter });
    expect({ distinctValues: s.stats().distinctValues, valueBytes: s.stats().valueBytes }).toEqual(recount(adapter.tree!));
    await s.close();
  });
});

/** The varint bytes of `n`. */
function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  out.push(n);
  return out;
}
