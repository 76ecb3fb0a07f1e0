// The engine as a whole, against a plain sorted Map: random writes, deletes, reads,
// scans, flushes, merges, reopens and crashes (a power loss played by MemoryDirectory).
import { ErrorCodes } from '@koru/engine';
import { fcSeed, prng } from '@koru/vitest-preset/helpers';
import { describe, expect, it } from 'vitest';
import { InlineMergeRunner } from '../src/lsm/merge-runner.js';
import { LsmTree, type LsmTreeOptions } from '../src/lsm/lsm-tree.js';
import { MemoryDirectory } from '../src/lsm/memory-directory.js';
import { KIND_DELETE, KIND_PUT, type Entry } from '../src/lsm/types.js';
import { HookedDirectory } from './lsm-test-dirs.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

function open(dir: MemoryDirectory | HookedDirectory, extra: Partial<LsmTreeOptions> = {}): LsmTree {
  return LsmTree.open({
    dir,
    flushRunner: new InlineMergeRunner(dir),
    mergeRunner: new InlineMergeRunner(dir),
    sync: 'always',
    memtableBytes: 4 * 1024,
    targetFileBytes: 8 * 1024,
    picker: { l0Trigger: 3, levelBaseBytes: 16 * 1024, levelMultiplier: 4 },
    writer: { blockBytes: 512 },
    cache: 64 * 1024,
    ...extra,
  });
}

/** Waits until background flushes and merges are idle. */
async function settle(tree: LsmTree): Promise<void> {
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 1));
    const s = tree.stats();
    if (s.frozenMemtables === 0 && i > 3) return;
  }
}

function scan(tree: LsmTree, from?: string): Array<[string, string]> {
  const c = tree.cursor();
  if (from === undefined) c.seekToFirst();
  else c.seek(from);
  const out: Array<[string, string]> = [];
  for (; c.valid(); c.next()) out.push([c.key(), dec.decode(c.value())]);
  c.close();
  return out;
}

function expected(model: Map<string, string>, from?: string): Array<[string, string]> {
  return [...model].filter(([k]) => from === undefined || k >= from).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function keyOf(rand: () => number): string {
  // Short binary keys with shared prefixes and every byte value, so blocks, restarts and
  // level ranges all see close neighbours.
  const n = 1 + Math.floor(rand() * 6);
  let k = 'k';
  for (let i = 0; i < n; i++) k += String.fromCharCode(Math.floor(rand() * (rand() < 0.7 ? 4 : 256)));
  return k;
}

describe('LsmTree', () => {
  it('agrees with a sorted map through writes, flushes, merges, reopens and power losses', async () => {
    const seed = fcSeed('lsm-tree model');
    const rand = prng(seed);
    let dir = new MemoryDirectory();
    let tree = open(dir);
    const model = new Map<string, string>();
    let flushes = 0;
    let merges = 0;
    for (let step = 0; step < 3000; step++) {
      const r = rand();
      if (r < 0.6) {
        const batch: Entry[] = [];
        const n = 1 + Math.floor(rand() * 4);
        for (let i = 0; i < n; i++) {
          const key = keyOf(rand);
          if (rand() < 0.15) {
            batch.push({ key, kind: KIND_DELETE, value: new Uint8Array(0) });
          } else {
            const v = `${step}:${i}:${'x'.repeat(Math.floor(rand() * 200))}`;
            batch.push({ key, kind: KIND_PUT, value: enc.encode(v) });
          }
        }
        tree.write(batch);
        for (const e of batch) {
          if (e.kind === KIND_DELETE) model.delete(e.key);
          else model.set(e.key, dec.decode(e.value));
        }
      } else if (r < 0.8) {
        const key = keyOf(rand);
        const got = tree.get(key);
        expect(got === undefined ? undefined : dec.decode(got), `get ${JSON.stringify(key)} at step ${step}`).toBe(model.get(key));
      } else if (r < 0.85) {
        const from = rand() < 0.5 ? undefined : keyOf(rand);
        expect(scan(tree, from)).toEqual(expected(model, from));
      } else if (r < 0.9) {
        await settle(tree);
      } else if (r < 0.93) {
        await tree.close();
        tree = open(dir);
      } else if (r < 0.96) {
        // A power loss: with sync 'always', every write that returned is durable.
        flushes += tree.stats().flushes;
        merges += tree.stats().merges;
        dir = dir.crash(rand);
        tree = open(dir);
        expect(scan(tree)).toEqual(expected(model));
      } else if (r < 0.97) {
        await tree.compact();
        const s = tree.stats();
        expect(s.levels[0]!.files).toBe(0);
        expect(s.levels.filter((l) => l.files > 0).length).toBeLessThanOrEqual(1);
      }
    }
    await settle(tree);
    flushes += tree.stats().flushes;
    merges += tree.stats().merges;
    expect(scan(tree)).toEqual(expected(model));
    // The run must have exercised the background paths it claims to test.
    expect(flushes).toBeGreaterThan(10);
    expect(merges).toBeGreaterThan(2);
    await tree.close();
    const reopened = open(dir);
    expect(scan(reopened)).toEqual(expected(model));
    await reopened.close();
  }, 120_000);

  it('opens by reading the manifest only: no segment is read before a lookup needs it', async () => {
    const dir = new MemoryDirectory();
    const tree = open(dir);
    for (let i = 0; i < 2000; i++) tree.put(`key${String(i).padStart(5, '0')}`, enc.encode(`value ${i}`));
    await tree.close();
    const again = open(dir);
    expect(again.stats().openReaders).toBe(0);
    expect(again.segments().length).toBeGreaterThan(1);
    expect(dec.decode(again.get('key01234')!)).toBe('value 1234');
    // One lookup opens at most the level-0 files and one file per deeper level.
    const levelsInUse = again.stats().levels.filter((l, i) => i > 0 && l.files > 0).length;
    expect(again.stats().openReaders).toBeLessThanOrEqual(again.stats().levels[0]!.files + levelsInUse);
    await again.close();
  });

  it('keeps a closed tree closed and refuses a cursor used after a write', async () => {
    const dir = new MemoryDirectory();
    const tree = open(dir);
    tree.put('a', enc.encode('1'));
    const c = tree.cursor();
    c.seekToFirst();
    tree.put('b', enc.encode('2'));
    expect(() => c.next()).toThrow(/cursors are synchronous/);
    await tree.close();
    expect(() => tree.get('a')).toThrow(expect.objectContaining({ code: ErrorCodes.CLOSED }));
    expect(() => tree.put('c', enc.encode('3'))).toThrow(expect.objectContaining({ code: ErrorCodes.CLOSED }));
  });

  it('refuses to open when a segment the manifest names is missing', async () => {
    const dir = new MemoryDirectory();
    const tree = open(dir);
    for (let i = 0; i < 500; i++) tree.put(`k${i}`, enc.encode('v'.repeat(50)));
    await tree.close();
    const victim = dir.list().find((n) => n.endsWith('.kseg'))!;
    dir.remove(victim);
    expect(() => open(dir)).toThrow(expect.objectContaining({ code: ErrorCodes.CORRUPTION, details: expect.objectContaining({ file: victim }) }));
  });

  it('deletes what a merge wrote but never installed, and keeps its inputs', async () => {
    const dir = new MemoryDirectory();
    const tree = open(dir, { autoMerge: false });
    for (let i = 0; i < 800; i++) tree.put(`k${i % 300}`, enc.encode(`v${i}`));
    await tree.flush();
    await tree.close();
    const live = dir.list().filter((n) => n.endsWith('.kseg'));
    // A merge output that never made it into the manifest.
    const orphan = '99999999.kseg';
    dir.writeAtomic(orphan, new Uint8Array([1, 2, 3]));
    const again = open(dir);
    expect(dir.exists(orphan)).toBe(false);
    expect(dir.list().filter((n) => n.endsWith('.kseg'))).toEqual(live);
    for (let i = 500; i < 800; i++) expect(dec.decode(again.get(`k${i % 300}`)!)).toBe(`v${i}`);
    await again.close();
  });

  it('refuses a write the disk has no room for, keeps nothing of it, and takes the next one', async () => {
    const mem = new MemoryDirectory();
    let full = false;
    const dir = new HookedDirectory(mem, { fail: (op, name) => full && op === 'append' && name.endsWith('.kwal') });
    const tree = open(dir);
    tree.write([{ key: 'a', kind: KIND_PUT, value: enc.encode('1') }]);
    full = true;
    expect(() => tree.write([{ key: 'b', kind: KIND_PUT, value: enc.encode('2') }, { key: 'a', kind: KIND_PUT, value: enc.encode('3') }])).toThrow(
      expect.objectContaining({ code: ErrorCodes.STORAGE_FULL }),
    );
    expect(tree.get('b')).toBeUndefined();
    expect(dec.decode(tree.get('a')!)).toBe('1');
    full = false;
    tree.write([{ key: 'c', kind: KIND_PUT, value: enc.encode('4') }]);
    // A power loss now: the log holds the first and the last batch, nothing of the refused one.
    const after = open(mem.crash());
    expect(scan(after)).toEqual([
      ['a', '1'],
      ['c', '4'],
    ]);
    await after.close();
    await tree.close();
  });

  it('keeps the frozen memtable and its log when a flush cannot write its segment, and flushes it later', async () => {
    const mem = new MemoryDirectory();
    let full = false;
    const errors: unknown[] = [];
    const times: number[] = [];
    const dir = new HookedDirectory(mem, { fail: (op, name) => full && op === 'append' && name.endsWith('.kseg') });
    const tree = open(dir, {
      onBackgroundError: (e) => {
        errors.push(e);
        times.push(performance.now());
      },
      autoMerge: false,
    });
    full = true;
    for (let i = 0; i < 300; i++) tree.put(`k${i}`, enc.encode(`v${i}`.repeat(4)));
    await new Promise((r) => setTimeout(r, 400));
    // Retried after a pause that grows (100 ms, then 200, …), not in a loop.
    expect(errors.length).toBeGreaterThan(1);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(99);
    expect(errors[0]).toMatchObject({ code: ErrorCodes.STORAGE_FULL });
    expect(tree.segments()).toHaveLength(0);
    for (let i = 0; i < 300; i++) expect(dec.decode(tree.get(`k${i}`)!)).toBe(`v${i}`.repeat(4));
    full = false;
    await tree.flush();
    expect(tree.segments().length).toBeGreaterThan(0);
    expect(tree.stats().frozenMemtables).toBe(0);
    await tree.close();
    const again = open(mem);
    for (let i = 0; i < 300; i++) expect(dec.decode(again.get(`k${i}`)!)).toBe(`v${i}`.repeat(4));
    await again.close();
  });
});
