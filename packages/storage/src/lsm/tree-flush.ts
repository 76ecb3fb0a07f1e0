/**
 * A tree's flushes: the frozen logs (tree-writes.ts) become one level-0 segment. The
 * job runs in the flush runner's thread (a worker on Node), which reads the logs' files
 * itself: the main thread copies nothing. The segment is installed by replacing the
 * manifest atomically (with a `logNumber` past the flushed logs), then the logs are
 * deleted; a crash between the two leaves logs the next open deletes unread.
 *
 * A flush that fails (a full disk, say) leaves the frozen memtables and their logs as
 * they were, and is tried again after a pause.
 */
import type { MergeJob, MergeResult } from './merge.js';
import type { MergeRunner } from './merge-runner.js';
import type { SegmentMeta } from './manifest.js';
import type { SegmentWriterOptions } from './segment-writer.js';
import type { TreeFiles } from './tree-files.js';
import type { Frozen } from './tree-recovery.js';
import type { TreeStatus } from './tree-status.js';
import type { TreeWrites } from './tree-writes.js';
import { segmentFileName } from './types.js';

/** What a flush needs of the tree (internal to src/lsm). */
export interface TreeFlushParts {
  readonly files: TreeFiles;
  readonly writes: TreeWrites;
  readonly status: TreeStatus;
  readonly runner: MergeRunner;
  readonly writer: SegmentWriterOptions;
  /** Told after each installed flush: level 0 grew, a merge may be due. */
  readonly onFlushed: () => void;
}

/** Runs one flush at a time, and retries a failed one (internal to src/lsm). */
export class TreeFlush {
  readonly #parts: TreeFlushParts;
  #running: Promise<void> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryMs = 0;
  #count = 0;

  constructor(parts: TreeFlushParts) {
    this.#parts = parts;
  }

  /** The flush running now (it settles once installed or failed), or undefined. */
  get running(): Promise<void> | undefined {
    return this.#running;
  }

  /** Flushes installed since opening. */
  get count(): number {
    return this.#count;
  }

  /** Starts a flush of every frozen memtable, unless one runs (it starts the next when done) or none is frozen. */
  schedule(): void {
    const { files, writes, status, runner, writer } = this.#parts;
    if (this.#running !== undefined || writes.frozen.length === 0 || status.closed) return;
    // Every frozen log goes into one level-0 segment (logs kept from earlier sessions are
    // small, and each would otherwise be a file of its own).
    const flushed = [...writes.frozen];
    const job: MergeJob = {
      inputs: flushed.map((f) => ({ wal: f.wal })),
      outputLevel: 0,
      firstFileNumber: files.allocate(),
      maxOutputs: 1,
      targetFileBytes: Number.MAX_SAFE_INTEGER,
      dropDeletes: false,
      writer,
    };
    let ok = false;
    this.#running = runner
      .run(job)
      .then(
        (result) => {
          try {
            this.#install(flushed, result);
            ok = true;
          } catch (e) {
            // A manifest that could not be written (a full disk): the logs still hold
            // everything, and the flush is tried again later.
            status.backgroundFailed(e);
          }
        },
        (e: unknown) => status.backgroundFailed(e),
      )
      .finally(() => {
        this.#running = undefined;
        if (ok) {
          this.#retryMs = 0;
          this.schedule();
          this.#parts.onFlushed();
        } else this.#retryLater();
      });
  }

  /** Schedules a flush now — also a retry of one that failed before, without waiting for its pause. */
  now(): void {
    if (this.#retryTimer !== undefined) {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
    }
    this.schedule();
  }

  /** Drops a pending retry (the tree is closing). */
  stop(): void {
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
  }

  /**
   * After a failed flush (a full disk, say), tries again after a pause that doubles up
   * to 30 s, not at once: a failure that lasts would otherwise spin. The frozen memtable
   * and its log stay, so reads and the next open see every write meanwhile.
   */
  #retryLater(): void {
    if (this.#parts.status.closed || this.#retryTimer !== undefined) return;
    this.#retryMs = Math.min(30_000, Math.max(100, this.#retryMs * 2));
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.schedule();
    }, this.#retryMs);
    (this.#retryTimer as { unref?: () => void }).unref?.();
  }

  #install(flushed: readonly Frozen[], result: MergeResult): void {
    const { files, writes, status } = this.#parts;
    const added = result.outputs.filter((o) => o.count > 0).map((o): SegmentMeta => ({ ...o, level: 0 }));
    const logNumber = writes.logNumberAfter(flushed);
    files.install({ ...files.manifest, segments: [...files.manifest.segments, ...added], logNumber });
    for (const o of result.outputs) if (o.count === 0) files.dir.remove(segmentFileName(o.fileNumber));
    writes.dropFlushed(flushed);
    this.#count++;
    status.epoch++;
  }
}
