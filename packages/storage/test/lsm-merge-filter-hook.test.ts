// The engine's side of retention: filters registered by name, a filter's report coming
// back with the merge's result, and the tree's merge hook — consulted per merge with
// whether it is bottommost or full, its properties installed with the merge's outputs.
import { describe, expect, it } from 'vitest';
import type { MergeFilterHook } from '../src/lsm/lsm-tree.js';
import { MemoryDirectory } from '../src/lsm/memory-directory.js';
import { InlineMergeRunner, loadMergeFilter, registerMergeFilter } from '../src/lsm/merge-runner.js';
import type { MergeFilter, MergeJob } from '../src/lsm/merge.js';
import { KIND_PUT } from '../src/lsm/types.js';
import { openTinyVersionTree } from './lsm-helpers.js';

/** Drops keys starting with `params.drop`, counting them in its report. */
function createDropper(params: unknown): MergeFilter {
  const { drop } = params as { drop: string };
  let dropped = 0;
  const f = (key: string): 'keep' | 'drop' => (key.startsWith(drop) ? (dropped++, 'drop') : 'keep');
  return Object.assign(f, { report: () => ({ dropped }) });
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('merge filters by name', () => {
  it('builds a registered filter without an import, and refuses a bad registration', async () => {
    registerMergeFilter('test:dropper', createDropper);
    const job = { filter: { module: 'test:dropper', params: { drop: 'x' } } } as unknown as MergeJob;
    const f = (await loadMergeFilter(job))!;
    expect(f('xa', KIND_PUT, new Uint8Array(0))).toBe('drop');
    expect(f('ya', KIND_PUT, new Uint8Array(0))).toBe('keep');
    expect(f.report?.()).toEqual({ dropped: 1 });
    expect(() => registerMergeFilter('', createDropper)).toThrow();
  });

  it('returns the report with the result, and the hook installs its properties with the outputs', async () => {
    registerMergeFilter('test:dropper', createDropper);
    const dir = new MemoryDirectory();
    const tree = openTinyVersionTree(dir, { flushRunner: new InlineMergeRunner(dir), autoMerge: false });
    const asked: Array<{ bottommost: boolean; full: boolean }> = [];
    const hook: MergeFilterHook = {
      forMerge: ({ bottommost, full }) => {
        asked.push({ bottommost, full });
        return { module: 'test:dropper', params: { drop: 'x' } };
      },
      propertiesAfter: (report, properties) => ({ ...properties, last: report ?? null }),
    };
    tree.setMergeFilter(hook);
    for (let i = 0; i < 50; i++) tree.write([{ key: `x${String(i).padStart(3, '0')}`, kind: KIND_PUT, value: bytes('v') }, { key: `y${i}`, kind: KIND_PUT, value: bytes('w') }]);
    await tree.compact();
    expect(asked).toEqual([{ bottommost: true, full: true }]);
    expect(tree.properties).toEqual({ last: { dropped: 50 } });
    expect(tree.get('x001')).toBeUndefined();
    expect(tree.get('y1')).toEqual(bytes('w'));
    // Without a filter for a merge, the properties stay as they were.
    tree.setMergeFilter({ forMerge: () => undefined, propertiesAfter: () => ({ never: true }) });
    tree.put('x999', bytes('v'));
    await tree.compact();
    expect(tree.properties).toEqual({ last: { dropped: 50 } });
    expect(tree.get('x999')).toEqual(bytes('v'));
    await tree.close();
  });
});
