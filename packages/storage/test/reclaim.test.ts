// Reclaiming large values in memory (the same engine, merges in this thread): compact()'s
// full merge drops the value records (`X`) no kept version references, keeps those any
// kept version (of any key) references, never drops one in another merge, and a write
// racing the merge with a value it drops keeps its value. The store's counters equal a
// recount of the records after retention, reclamation and purge.
import { ErrorCodes } from '@koru/engine';
import { CausalStorage, type LsmTree } from '@koru/storage';
import { describe, expect, it } from 'vitest';
import { createReclaimFilter, RECLAIM_FILTER } from '../src/reclaim-filter.js';
import { RETENTION_FILTER } from '../src/retention-filter.js';
import { valueKey } from '../src/version-records.js';
import { big, HeldMergeAdapter, recount, valueRecords } from './reclaim-helpers.js';

async function open(): Promise<{ s: CausalStorage; adapter: HeldMergeAdapter; tree: LsmTree }> {
  const adapter = new HeldMergeAdapter();
  const s = await CausalStorage.open({ adapter });
  return { s, adapter, tree: adapter.tree! };
}

/** The store's value counters. */
function counted(s: CausalStorage): { distinctValues: number; valueBytes: number } {
  const { distinctValues, valueBytes } = s.stats();
  return { distinctValues, valueBytes };
}

describe('compact() reclaims large values', () => {
  it('drops the value records of versions retention cut, keeps shared and current ones, and counts what is left', async () => {
    const { s, tree } = await open();
    await s.setRetention('docs', { lastVersions: 2 });
    const written = [];
    for (let i = 0; i < 6; i++) written.push(await s.put('docs', 'k', big(`v${i}-`)));
    // v1 is also another key's (in a namespace that keeps everything): it stays.
    await s.put('keep', 'shared', big('v1-'));
    // Small values are inline: they have no record.
    await s.put('docs', 'small', { n: 1 });
    expect(valueRecords(tree)).toBe(6);
    expect(counted(s)).toEqual(recount(tree));
    await s.compact();
    // v4, v5 kept (last 2), v1 shared; v0, v2, v3 reclaimed.
    for (const [i, v] of written.entries()) expect(tree.get(valueKey(v.valueId!)) !== undefined, `v${i}`).toBe(i === 1 || i >= 4);
    expect(valueRecords(tree)).toBe(3);
    expect(s.get('docs', 'k')).toEqual(big('v5-'));
    expect(s.history('docs', 'k').map((v) => v.value)).toEqual([big('v4-'), big('v5-')]);
    expect(s.get('keep', 'shared')).toEqual(big('v1-'));
    expect(counted(s)).toEqual(recount(tree));
    const report = await s.verify();
    expect(report.problems).toEqual([]);
    expect(report.values).toBe(3);
    // A second compaction has nothing more to take.
    await s.compact();
    expect(valueRecords(tree)).toBe(3);
    expect(counted(s)).toEqual(recount(tree));
    await s.close();
  });

  it('drops value records no version references even without a retention policy, and none that one does', async () => {
    const { s, tree } = await open();
    const a = await s.put('n', 'a', big('A'));
    const b = await s.put('n', 'b', big('B'));
    // As a purge cut short by a crash leaves it: the record of A with no version holding it.
    await s.purge('n', 'a');
    tree.put(valueKey(a.valueId!), tree.get(valueKey(b.valueId!))!);
    expect(valueRecords(tree)).toBe(2);
    await s.compact();
    expect(tree.get(valueKey(a.valueId!))).toBeUndefined();
    expect(s.get('n', 'b')).toEqual(big('B'));
    expect((await s.verify()).problems).toEqual([]);
    await s.close();
  });

  it('is done only by the store\'s full merge: the tree compacted directly, and partial merges, drop no value record', async () => {
    const { s, adapter, tree } = await open();
    await s.setRetention('docs', { lastVersions: 1 });
    for (let i = 0; i < 4; i++) await s.put('docs', 'k', big(`v${i}-`));
    // LsmTree.compact() without the store: a full merge with no reclaim window.
    await tree.compact();
    expect(adapter.filters).toEqual([RETENTION_FILTER]);
    expect(s.history('docs', 'k')).toHaveLength(1);
    expect(valueRecords(tree)).toBe(4);
    await s.compact();
    expect(adapter.filters).toEqual([RETENTION_FILTER, RECLAIM_FILTER]);
    expect(valueRecords(tree)).toBe(1);
    expect(counted(s)).toEqual(recount(tree));
    // The filter refuses to be built for anything but a full merge.
    expect(() => createReclaimFilter({ policies: [], now: 0 })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    await s.close();
  });
});

describe('verify after reclamation', () => {
  it('passes, and still reports a kept version whose value record is missing', async () => {
    const { s, tree } = await open();
    await s.setRetention('docs', { lastVersions: 1 });
    await s.put('docs', 'a', big('A'));
    const kept = await s.put('docs', 'a', big('B'));
    await s.compact();
    expect((await s.verify()).problems).toEqual([]);
    tree.delete(valueKey(kept.valueId!));
    const report = await s.verify();
    expect(report.ok).toBe(false);
    expect(JSON.stringify(report.problems)).toContain(kept.versionId);
    await s.close();
  });
});

describe('a write racing the reclaiming merge', () => {
  it('keeps its value when the merge drops the record it found (the window rewrites it)', async () => {
    const { s, adapter, tree } = await open();
    await s.setRetention('docs', { lastVersions: 1 });
    const old = await s.put('docs', 'k', big('A'));
    await s.put('docs', 'k', big('B'));
    const held = adapter.holdNext();
    const compacting = s.compact();
    await held.reached;
    // The merge ran: A's record is in its inputs, and no version it kept holds A, so its
    // outputs lack it. Not installed yet: the record is still there to be found.
    expect(tree.get(valueKey(old.valueId!))).toBeDefined();
    const racing = await s.put('other', 'x', big('A'));
    expect(racing.valueId).toBe(old.valueId);
    held.release();
    await compacting;
    expect(s.get('other', 'x')).toEqual(big('A'));
    expect(tree.get(valueKey(old.valueId!))).toBeDefined();
    expect((await s.verify()).problems).toEqual([]);
    expect(counted(s)).toEqual(recount(tree));
    // Later compactions keep it: a version holds it.
    await s.compact();
    expect(s.get('other', 'x')).toEqual(big('A'));
    expect(counted(s)).toEqual(recount(tree));
    expect((await s.verify()).problems).toEqual([]);
    await s.close();
  });

  it('after the install, a write of a reclaimed value stores it again and counts it', async () => {
    const { s, tree } = await open();
    await s.setRetention('docs', { lastVersions: 1 });
    const old = await s.put('docs', 'k', big('A'));
    await s.put('docs', 'k', big('B'));
    await s.compact();
    expect(tree.get(valueKey(old.valueId!))).toBeUndefined();
    const before = counted(s);
    await s.put('other', 'x', big('A'));
    expect(counted(s).distinctValues).toBe(before.distinctValues + 1);
    expect(counted(s)).toEqual(recount(tree));
    expect(s.get('other', 'x')).toEqual(big('A'));
    await s.close();
  });

  it('a purge erasing a value the merge also drops counts it once', async () => {
    const { s, adapter, tree } = await open();
    await s.setRetention('docs', { lastVersions: 1 });
    await s.put('docs', 'p', big('A'));
    await s.put('docs', 'p', big('B'));
    await s.put('docs', 'q', big('C'));
    const held = adapter.holdNext();
    const compacting = s.compact();
    await held.reached;
    // The merge dropped A (cut by retention); the purge erases A and B (no other holder).
    await s.purge('docs', 'p');
    held.release();
    await compacting;
    expect(counted(s)).toEqual(recount(tree));
    await s.compact();
    expect(counted(s)).toEqual(recount(tree));
    expect(valueRecords(tree)).toBe(1);
    expect((await s.verify()).problems).toEqual([]);
    await s.close();
  });
});

describe('the counters', () => {
  it('lose what a purge removed, inline values and value records', async () => {
    const { s, tree } = await open();
    await s.put('n', 'k', { small: 1 });
    await s.put('n', 'k', big('A'));
    await s.put('n', 'k', { small: 2 });
    await s.put('n', 'other', { small: 3 });
    expect(counted(s)).toEqual(recount(tree));
    await s.purge('n', 'k');
    expect(counted(s)).toEqual(recount(tree));
    expect(counted(s).distinctValues).toBe(1);
    await s.compact();
    expect(counted(s)).toEqual(recount(tree));
    await s.close();
  });

  it('lose the inline values retention cut, in compact() and in background merges', async () => {
    const { s, tree } = await open();
    await s.setRetention('docs', { lastVersions: 2 });
    for (let i = 0; i < 10; i++) await s.put('docs', `k${i % 3}`, { i, text: 'x'.repeat(i * 10) });
    await s.compact();
    expect(counted(s)).toEqual(recount(tree));
    expect(counted(s).distinctValues).toBe(6);
    await s.close();
  });
});
