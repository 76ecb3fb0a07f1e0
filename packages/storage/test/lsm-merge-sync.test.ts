// Merges sync their outputs every MERGE_SYNC_EVERY_BYTES as they write (a burst of 32 MiB
// of writeback held the write-ahead log's syncs up); flushes sync once, at the end.
import { describe, expect, it } from 'vitest';
import type { MergeJob, MergeResult } from '../src/lsm/merge.js';
import { InlineMergeRunner } from '../src/lsm/merge-runner.js';
import { LsmTree } from '../src/lsm/lsm-tree.js';
import { MemoryDirectory } from '../src/lsm/memory-directory.js';
import { MERGE_SYNC_EVERY_BYTES } from '../src/lsm/tree-merges.js';

/** An inline runner that records the jobs it was given. */
class RecordingRunner extends InlineMergeRunner {
  readonly jobs: MergeJob[] = [];
  override run(job: MergeJob): Promise<MergeResult> {
    this.jobs.push(job);
    return super.run(job);
  }
}

describe('merge output syncing', () => {
  it('gives merge jobs syncEveryBytes, flush jobs none, and lets the tree’s writer options choose otherwise', async () => {
    const enc = new TextEncoder();
    for (const writer of [{}, { syncEveryBytes: 4096 }]) {
      const dir = new MemoryDirectory();
      const flushes = new RecordingRunner(dir);
      const merges = new RecordingRunner(dir);
      const tree = LsmTree.open({ dir, flushRunner: flushes, mergeRunner: merges, autoMerge: false, writer });
      for (let f = 0; f < 3; f++) {
        for (let i = 0; i < 100; i++) tree.put(`k${i}`, enc.encode(`v${f}`));
        await tree.flush();
      }
      await tree.compact();
      expect(flushes.jobs.length).toBeGreaterThan(0);
      expect(merges.jobs.length).toBeGreaterThan(0);
      for (const j of flushes.jobs) expect(j.writer.syncEveryBytes).toBe(writer.syncEveryBytes);
      for (const j of merges.jobs) expect(j.writer.syncEveryBytes).toBe(writer.syncEveryBytes ?? MERGE_SYNC_EVERY_BYTES);
      expect(new TextDecoder().decode(tree.get('k7'))).toBe('v2');
      await tree.close();
    }
  });
});
