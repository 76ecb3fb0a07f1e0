// A loop of awaited reads that never yields to the event loop's macrotasks (a script
// reading history as fast as it can) still gets the tree's background work installed:
// the merge that opening resumes starts, and its result is taken, on the reads
// themselves. Without that, such a loop reads the same many level-0 files forever.
// Through the built package: the merge worker loads dist files.
import { LsmTree, NodeDirectory, WorkerMergeRunner } from '@koru/storage/node';
import { tempDir } from '@koru/vitest-preset/helpers';
import { packageDirOf, requireFreshBuild } from '@koru/vitest-preset/package-checks';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

const pkgDir = packageDirOf(import.meta.url);
beforeAll(() => requireFreshBuild(pkgDir));

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const enc = new TextEncoder();
const keyOf = (i: number): string => `k${String(i).padStart(5, '0')}`;

/** A tree of `flushes` level-0 files (merges off), closed. */
async function levelZeroFiles(path: string, flushes: number): Promise<void> {
  const tree = LsmTree.open({ dir: new NodeDirectory(path), flushRunner: new WorkerMergeRunner(path), autoMerge: false });
  for (let f = 0; f < flushes; f++) {
    for (let i = 0; i < 2000; i++) tree.put(keyOf(i), enc.encode(`value ${i} of flush ${f}`));
    await tree.flush();
  }
  expect(tree.stats().levels[0]!.files).toBe(flushes);
  await tree.close();
}

/** Awaits only settled promises, reading, until `done` or `ms` passed; returns the reads made. */
async function readWithoutYielding(tree: LsmTree, done: () => boolean, ms: number): Promise<number> {
  const deadline = performance.now() + ms;
  let reads = 0;
  while (!done() && performance.now() < deadline) {
    const v = tree.get(keyOf(reads % 2000));
    if (v === undefined) throw new Error(`lost ${keyOf(reads % 2000)}`);
    reads++;
    await Promise.resolve();
  }
  return reads;
}

describe('background work during reads that never yield', () => {
  it('the resumed merge starts and installs while a loop awaits only settled promises', async () => {
    const { dir: path, cleanup } = tempDir('koru-bg-poll-');
    cleanups.push(cleanup);
    await levelZeroFiles(path, 6);
    const tree = LsmTree.open({ dir: new NodeDirectory(path), flushRunner: new WorkerMergeRunner(path), mergeRunner: new WorkerMergeRunner(path), resumeMergesAfterMs: 200 });
    cleanups.push(() => tree.close());
    const levelZero = (): number => tree.stats().levels[0]!.files;
    expect(levelZero()).toBe(6);
    // Bounded: a merge of 12,000 small entries takes well under a second on its own.
    const reads = await readWithoutYielding(tree, () => levelZero() === 0, 30_000);
    expect(levelZero()).toBe(0);
    expect(tree.stats().merges).toBeGreaterThan(0);
    expect(reads).toBeGreaterThan(0);
    // Every key reads its last value from the merged files.
    expect(new TextDecoder().decode(tree.get(keyOf(1999)))).toBe('value 1999 of flush 5');
  }, 60_000);
});
