/**
 * A tree's merges, the last step of its data's path: segments of a level, with those
 * they overlap one level down, are merged into new files of the deeper level (what to
 * merge: compaction-picker.ts; how: merge.ts). A merge runs in the merge runner's thread
 * (a worker on Node; its own runner, so a long merge never holds up a flush), and its
 * outputs are installed with one atomic manifest write that also drops its inputs; the
 * inputs' files are deleted after it (kept while a checkpoint pins them, see
 * tree-files.ts). Outputs of a merge a crash or a close cut short are named by no
 * manifest: the next open deletes them.
 *
 * The layer above may filter what a merge keeps (retention, see {@link MergeFilterHook}).
 */
import { pickFullMerge, pickMerge, type PickedMerge, type PickerOptions } from './compaction-picker.js';
import type { SegmentMeta } from './manifest.js';
import type { MergeJob } from './merge.js';
import type { MergeRunner } from './merge-runner.js';
import type { SegmentWriterOptions } from './segment-writer.js';
import type { TreeFiles } from './tree-files.js';
import type { TreeStatus } from './tree-status.js';
import { segmentFileName } from './types.js';
import type { LsmTree } from './lsm-tree.js';

/**
 * How the layer above filters merges (retention): consulted for each merge on the main
 * thread, and told what the filter reported when the merge's outputs are installed.
 */
export interface MergeFilterHook {
  /**
   * The filter of a merge about to run (undefined: none). `bottommost`: no deeper level
   * holds the merge's range (deletion markers are dropped too); `full`: {@link LsmTree.compact}.
   */
  forMerge(merge: { readonly bottommost: boolean; readonly full: boolean; readonly outputLevel: number }): MergeJob['filter'];
  /**
   * The manifest properties to install with a filtered merge's outputs, in the same
   * atomic manifest write, from the filter's report and the properties now.
   */
  propertiesAfter(report: Readonly<Record<string, unknown>> | undefined, properties: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>>;
}

/**
 * A merge's outputs are synced every this many bytes as they are written (see
 * {@link SegmentWriterOptions.syncEveryBytes}; the tree's writer options may say
 * otherwise). Measured on a full merge of 1M entries under durable puts: the event
 * loop's longest stall went from 21–26 ms to 10–13 ms. Flushes (8 MiB) sync once at
 * the end: syncing them too made replication lag worse on a busy 2-core cluster.
 */
export const MERGE_SYNC_EVERY_BYTES = 1024 * 1024;

/** What merges need of the tree (internal to src/lsm). */
export interface TreeMergesParts {
  readonly files: TreeFiles;
  readonly status: TreeStatus;
  readonly runner: MergeRunner;
  readonly picker: PickerOptions;
  readonly writer: SegmentWriterOptions;
  /** Output files are cut at this size. */
  readonly targetFileBytes: number;
  /** Merges start on their own; false leaves them to {@link TreeMerges.full}. */
  readonly autoMerge: boolean;
}

/** Runs one merge at a time: picked ones on their own, and full ones on demand (internal to src/lsm). */
export class TreeMerges {
  readonly #parts: TreeMergesParts;
  /** Where each level's last merge ended: the next one of that level starts after it. */
  readonly #pointers = new Map<number, string>();
  #running: Promise<void> | undefined;
  #resumeTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the pending resume is due (Date.now() ms; see {@link resumeIfDue}). */
  #resumeAt = 0;
  #filterHook: MergeFilterHook | undefined;
  #count = 0;

  constructor(parts: TreeMergesParts) {
    this.#parts = parts;
  }

  /** The merge running now (it settles once installed or failed), or undefined. */
  get running(): Promise<void> | undefined {
    return this.#running;
  }

  /** Merges installed since opening. */
  get count(): number {
    return this.#count;
  }

  /** Sets (or, with undefined, removes) the hook that filters merges. */
  setFilter(hook: MergeFilterHook | undefined): void {
    this.#filterHook = hook;
  }

  /** Starts the merge the picker finds due, unless one runs (it starts the next when done). */
  schedule(): void {
    const { files, status, picker } = this.#parts;
    if (!this.#parts.autoMerge || this.#running !== undefined || status.closed) return;
    const picked = pickMerge(files.manifest.segments, picker, this.#pointers);
    if (picked === undefined) return;
    let ok = false;
    this.#running = this.#run(picked)
      .then(
        () => {
          ok = true;
        },
        (e: unknown) => status.backgroundFailed(e),
      )
      .finally(() => {
        this.#running = undefined;
        // After a failure, the next flush tries again (not at once: it would spin).
        if (ok) this.schedule();
      });
  }

  /**
   * Schedules merges after `ms` (after opening: a merge a close cut short, or a crash
   * stopped, starts again — after a pause, so a short-lived process, one `kdelta get`,
   * does not start a merge only to abandon it; a write's flush starts it sooner).
   */
  resumeAfter(ms: number): void {
    this.#resumeAt = Date.now() + ms;
    this.#resumeTimer = setTimeout(() => {
      this.#resumeTimer = undefined;
      this.schedule();
    }, ms);
    (this.#resumeTimer as { unref?: () => void }).unref?.();
  }

  /** Schedules now the merges {@link resumeAfter} would have scheduled later (none if it did already). */
  resumeNow(): void {
    if (this.#resumeTimer !== undefined) {
      clearTimeout(this.#resumeTimer);
      this.#resumeTimer = undefined;
      this.schedule();
    }
  }

  /**
   * Resumes now when a pending resume is due: its timer is a macrotask, which a caller
   * that only awaits settled promises (a tight loop of awaited reads) never lets run.
   */
  resumeIfDue(): void {
    if (this.#resumeTimer !== undefined && Date.now() >= this.#resumeAt) this.resumeNow();
  }

  /** Drops a pending resume (the tree is closing). */
  stop(): void {
    if (this.#resumeTimer !== undefined) clearTimeout(this.#resumeTimer);
  }

  /**
   * Merges every segment into one sorted run (deletion markers dropped) once the running
   * merge is done. @throws what the merge threw (its inputs then stay live)
   */
  async full(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
    const picked = pickFullMerge(this.#parts.files.manifest.segments);
    if (picked === undefined) return;
    const run = this.#run(picked, true);
    this.#running = run.then(
      () => undefined,
      () => undefined,
    );
    try {
      await run;
    } finally {
      this.#running = undefined;
    }
  }

  /** Runs a merge and installs its outputs. Rejects when it failed (the inputs then stay live). */
  async #run(picked: PickedMerge, full = false): Promise<void> {
    const { files, status, runner, writer, targetFileBytes } = this.#parts;
    const inBytes = picked.inputs.reduce((n, s) => n + s.bytes, 0);
    const maxOutputs = picked.inputs.length + Math.ceil(inBytes / targetFileBytes) + 1;
    const first = files.allocate(maxOutputs);
    const job: MergeJob = {
      inputs: picked.inputs.map((s) => ({ segment: s.fileNumber })),
      outputLevel: picked.outputLevel,
      firstFileNumber: first,
      maxOutputs,
      targetFileBytes,
      dropDeletes: picked.dropDeletes,
      writer: { syncEveryBytes: MERGE_SYNC_EVERY_BYTES, ...writer },
    };
    const hook = this.#filterHook;
    const filter = hook?.forMerge({ bottommost: picked.dropDeletes, full, outputLevel: picked.outputLevel });
    const result = await runner.run(filter === undefined ? job : { ...job, filter });
    if (status.closed) {
      for (const o of result.outputs) files.discard(segmentFileName(o.fileNumber));
      return;
    }
    const gone = new Set(picked.inputs.map((s) => s.fileNumber));
    const added = result.outputs.filter((o) => o.count > 0).map((o): SegmentMeta => ({ ...o, level: picked.outputLevel }));
    const segments = [...files.manifest.segments.filter((s) => !gone.has(s.fileNumber)), ...added];
    // What the filter removed is recorded with the outputs that no longer hold it: one manifest write.
    const properties = filter === undefined || hook === undefined ? files.manifest.properties : hook.propertiesAfter(result.filterReport, files.manifest.properties);
    files.install({ ...files.manifest, segments, properties });
    for (const o of result.outputs) if (o.count === 0) files.dir.remove(segmentFileName(o.fileNumber));
    // A file a checkpoint still streams stays until the checkpoint is released.
    files.retire(gone);
    this.#count++;
    status.epoch++;
  }
}
