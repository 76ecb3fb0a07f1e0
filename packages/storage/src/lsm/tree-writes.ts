/**
 * A tree's write path, the first steps of its data: a batch is appended to the active
 * write-ahead log (all or nothing on replay), then applied to the memtable. Once the
 * memtable holds `memtableBytes` it is frozen with its log, and a new log is started;
 * the frozen pair waits in {@link TreeWrites.frozen} (read by lookups, newest first)
 * until a flush (tree-flush.ts) has turned the log into a segment.
 *
 * Under `sync: 'periodic'` the log is synced on a timer; a sync that fails stops every
 * later write (the log may have lost what it held), see TreeStatus.breakWrites.
 */
import { Memtable } from './memtable.js';
import type { TreeFiles } from './tree-files.js';
import type { Frozen } from './tree-recovery.js';
import type { TreeStatus } from './tree-status.js';
import type { Entry } from './types.js';
import { removeWal, WalWriter } from './wal.js';

/** At most this many logs are left unflushed at close (see LsmTreeOptions.keepLogBytes). */
export const MAX_KEPT_LOGS = 8;

/** How the write path syncs and when it freezes (the tree's options, defaults applied). */
export interface TreeWritesOptions {
  readonly sync: 'always' | 'periodic';
  readonly syncIntervalMs: number;
  /** Memtable size that freezes it. */
  readonly memtableBytes: number;
  /** Unflushed bytes that may stay in their logs at close (see LsmTreeOptions.keepLogBytes). */
  readonly keepLogBytes: number;
}

/** The active log and memtable, and the frozen ones waiting for their flush (internal to src/lsm). */
export class TreeWrites {
  readonly #files: TreeFiles;
  readonly #status: TreeStatus;
  readonly #options: TreeWritesOptions;
  /** Told when a memtable was frozen: its flush is due. */
  readonly #onFrozen: () => void;
  #mem = new Memtable();
  #frozen: Frozen[];
  /** The active log; created at the first write (a process that only reads writes no file). */
  #wal: WalWriter | undefined;
  /** The active log's file number (reserved at open and at each rotation). */
  #walNumber: number;
  #syncTimer: ReturnType<typeof setTimeout> | undefined;

  /** `frozen`: the logs opening replayed, newest first (see recoverTree). */
  constructor(files: TreeFiles, status: TreeStatus, options: TreeWritesOptions, frozen: Frozen[], onFrozen: () => void) {
    this.#files = files;
    this.#status = status;
    this.#options = options;
    this.#frozen = frozen;
    this.#onFrozen = onFrozen;
    this.#walNumber = files.allocate();
  }

  /** The active memtable. */
  get mem(): Memtable {
    return this.#mem;
  }

  /** The frozen memtables with their logs, newest first. */
  get frozen(): readonly Frozen[] {
    return this.#frozen;
  }

  /** The active log's file number (its file may not exist yet). */
  get walNumber(): number {
    return this.#walNumber;
  }

  /** The active log, created on first use. */
  #activeWal(): WalWriter {
    return (this.#wal ??= WalWriter.create(this.#files.dir, this.#walNumber, { sync: this.#options.sync }));
  }

  /**
   * Appends a batch to the log, then applies it to the memtable (see LsmTree.write; the
   * tree checks it may write first).
   * @throws STORAGE_FULL / IO_ERROR with nothing of the batch applied
   */
  write(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    // A failed append leaves nothing of the batch in the log (the writer cuts what it
    // wrote, or refuses every later call itself when it cannot): nothing to undo here.
    this.#activeWal().append(entries);
    for (const e of entries) this.#mem.put(e.key, e.kind, e.value);
    this.#status.epoch++;
    if (this.#options.sync === 'periodic') this.#scheduleSync();
    if (this.#mem.bytes >= this.#options.memtableBytes) this.rotate();
  }

  /** Syncs the active log now (if it exists yet). */
  sync(): void {
    this.#wal?.sync();
  }

  #scheduleSync(): void {
    if (this.#syncTimer !== undefined) return;
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = undefined;
      if (this.#status.closed || this.#status.broken !== undefined) return;
      const wal = this.#wal;
      if (wal === undefined) return;
      // Off the event loop: an fdatasync took 10+ ms on a busy disk, every interval.
      // Writes go on meanwhile; what they add is synced at the next interval.
      let running: Promise<void>;
      try {
        running = wal.syncInBackground();
      } catch (e) {
        this.#status.breakWrites(e);
        return;
      }
      running.then(
        () => {
          if (wal === this.#wal && wal.unsynced && !this.#status.closed) this.#scheduleSync();
        },
        (e: unknown) => this.#status.breakWrites(e),
      );
    }, this.#options.syncIntervalMs);
    (this.#syncTimer as { unref?: () => void }).unref?.();
  }

  /** Freezes the memtable and starts a new log; the frozen one is flushed in the background. */
  rotate(): void {
    if (this.#mem.count === 0) return;
    // The frozen log is read by the flush in another thread: sync it so the segment
    // never holds a write the log could still lose.
    // A memtable with entries has its log (written first).
    const wal = this.#wal!;
    wal.sync();
    wal.close();
    this.#frozen.unshift({ mem: this.#mem, wal: wal.fileNumber, bytes: wal.bytes });
    this.#mem = new Memtable();
    this.#wal = undefined;
    this.#walNumber = this.#files.allocate();
    this.#status.epoch++;
    this.#onFrozen();
  }

  /** True while the unflushed writes are few enough to be left in their logs (see LsmTreeOptions.keepLogBytes). */
  smallEnoughToKeep(): boolean {
    const logs = this.#frozen.length + (this.#mem.count > 0 ? 1 : 0);
    return logs <= MAX_KEPT_LOGS && this.memtableBytes() < this.#options.keepLogBytes;
  }

  /** The oldest log still needed once `flushed` are in a segment: the manifest's next `logNumber`. */
  logNumberAfter(flushed: readonly Frozen[]): number {
    // Logs still needed: the frozen ones not flushed yet, and the active one.
    const remaining = this.#frozen.filter((f) => !flushed.includes(f));
    return Math.min(this.#walNumber, ...remaining.map((f) => f.wal));
  }

  /** Lets go of frozen memtables whose segment the manifest now names, and deletes their logs. */
  dropFlushed(flushed: readonly Frozen[]): void {
    this.#frozen = this.#frozen.filter((f) => !flushed.includes(f));
    for (const f of flushed) removeWal(this.#files.dir, f.wal);
  }

  /** Bytes held by the active and frozen memtables. */
  memtableBytes(): number {
    return this.#mem.bytes + this.#frozen.reduce((n, f) => n + f.mem.bytes, 0);
  }

  /** Bytes of the logs on disk. */
  logBytes(): number {
    let n = this.#wal?.bytes ?? 0;
    for (const f of this.#frozen) n += f.bytes;
    return n;
  }

  /** Stops the sync timer, syncs the log (unless writes stopped: it cannot be trusted) and closes it. */
  close(): void {
    if (this.#syncTimer !== undefined) clearTimeout(this.#syncTimer);
    try {
      if (this.#status.broken === undefined) this.#wal?.sync();
    } finally {
      this.#wal?.close();
    }
  }
}
