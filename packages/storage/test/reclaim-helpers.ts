// What the reclamation tests share: large values, a recount of the values stored from
// the records themselves (what the store's counters must equal), and a memory adapter
// whose reclaiming merges can be held between their run and their install.
import { InlineMergeRunner, LsmTree, MemoryDirectory, recoveryOf, VERSION_TREE_WRITER, type OpenedStorage, type StorageAdapter } from '@koru/storage';
import type { MergeJob, MergeResult } from '../src/lsm/merge.js';
import type { MergeRunner } from '../src/lsm/merge-runner.js';
import { isHorizon } from '../src/horizon-records.js';
import { RECLAIM_FILTER } from '../src/reclaim-filter.js';
import { inlineTextBytes } from '../src/retention-filter.js';
import { FLAG_INLINE, versionRecordSeq } from '../src/version-records.js';

/** A value too large to be stored inline (1 KiB default): ~3 KB of `tag`. */
export function big(tag: string): { tag: string; body: string } {
  return { tag, body: tag.repeat(3000 / tag.length) };
}

/** How many value records (`X`) the tree holds. */
export function valueRecords(tree: LsmTree): number {
  let n = 0;
  const c = tree.cursor();
  for (c.seek('X'); c.valid() && c.key().charCodeAt(0) === 0x58; c.next()) n++;
  return n;
}

/**
 * The values stored and their texts' UTF-8 bytes, counted from the records: each inline
 * value of a version record, each value record. What `stats().distinctValues` and
 * `valueBytes` must say.
 */
export function recount(tree: LsmTree): { distinctValues: number; valueBytes: number } {
  let distinctValues = 0;
  let valueBytes = 0;
  const c = tree.cursor();
  for (c.seek('V'); c.valid(); c.next()) {
    const k = c.key();
    const tag = k.charCodeAt(0);
    if (tag === 0x56) {
      const v = c.value();
      if (isHorizon(v)) continue;
      const { seq, flags } = versionRecordSeq(v);
      if ((flags & FLAG_INLINE) === 0) continue;
      distinctValues++;
      valueBytes += inlineTextBytes(v, flags, seq);
    } else if (tag === 0x58) {
      distinctValues++;
      valueBytes += c.value().length - 1;
    } else if (tag > 0x58) break;
  }
  return { distinctValues, valueBytes };
}

/**
 * A memory adapter (flushes and merges in this thread) whose reclaiming merges — the
 * full merges of `compact()` — are held after they ran, before their outputs are
 * installed, while {@link hold} is set: the window in which a write may race them.
 */
export class HeldMergeAdapter implements StorageAdapter {
  readonly name = 'memory';
  readonly synchronous = true;
  readonly dir = new MemoryDirectory();
  tree: LsmTree | undefined;
  /** When set, each reclaiming merge calls `reached` once it ran, then waits for `until`. */
  hold: { readonly reached: () => void; readonly until: Promise<void> } | undefined;
  /** The filter module each merge job named (undefined: none), in order. */
  readonly filters: Array<string | undefined> = [];

  open(): OpenedStorage {
    const inner = new InlineMergeRunner(this.dir);
    const merges: MergeRunner = {
      run: async (job: MergeJob): Promise<MergeResult> => {
        this.filters.push(job.filter?.module);
        const result = await inner.run(job);
        const hold = this.hold;
        if (hold !== undefined && job.filter?.module === RECLAIM_FILTER) {
          hold.reached();
          await hold.until;
        }
        return result;
      },
      close: () => inner.close(),
    };
    this.tree = LsmTree.open({ dir: this.dir, flushRunner: new InlineMergeRunner(this.dir), mergeRunner: merges, writer: VERSION_TREE_WRITER, autoMerge: false });
    return { nodeId: '0123456789abcdef', tree: this.tree, recovery: recoveryOf(this.tree) };
  }

  diskBytes(): number {
    return 0;
  }

  close(): Promise<void> {
    return this.tree?.close() ?? Promise.resolve();
  }

  /** Holds the next reclaiming merge: resolves `reached` once it ran; `release()` lets it install. */
  holdNext(): { reached: Promise<void>; release: () => void } {
    let release!: () => void;
    let reached!: () => void;
    const until = new Promise<void>((r) => (release = r));
    const got = new Promise<void>((r) => (reached = r));
    this.hold = { reached, until };
    return {
      reached: got,
      release: () => {
        this.hold = undefined;
        release();
      },
    };
  }
}
