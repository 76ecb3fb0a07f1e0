/**
 * The merge: sorted runs in, sorted runs out. One function serves both jobs of the
 * engine's background thread — a *flush* (write-ahead log files → a level-0 segment) and
 * a *merge* (segments → segments of a deeper level) — because both are the same walk:
 * a {@link MergingCursor} over the inputs, newest first, whose surviving entries are
 * written in order into new segments cut at a target size.
 *
 * It is pure with respect to the engine: it reads immutable files and creates new ones
 * under numbers reserved for it, and never touches its inputs or the manifest, so it can
 * run in any thread (a worker on Node; the calling thread for the in-memory directory).
 * Installing its outputs (a manifest swap) and deleting its inputs are the caller's.
 */
import { InvalidArgumentError } from '@koru/engine';
import type { RandomAccessFile, StorageDirectory } from './io.js';
import { Memtable } from './memtable.js';
import { MergingCursor } from './merging-cursor.js';
import { filterKeyOf } from './segment-format.js';
import { SegmentReader } from './segment-reader.js';
import { SegmentWriter, type SegmentWriterOptions } from './segment-writer.js';
import { KIND_DELETE, segmentFileName, type BlockCache, type EntryCursor, type EntryKind, type SegmentInfo } from './types.js';
import { replayWal } from './wal.js';

/** One input of a merge: a segment file number, or a write-ahead log file number. */
export type MergeInput = { readonly segment: number } | { readonly wal: number };

/** A merge or a flush, described by plain data so it can be posted to another thread. */
export interface MergeJob {
  /** Inputs, newest first: segment file numbers and/or WAL file numbers (a flush reads WAL files: they are immutable once rotated, so the main thread copies nothing). */
  readonly inputs: readonly MergeInput[];
  /** The level the outputs are written for (recorded in their properties). */
  readonly outputLevel: number;
  /** File numbers reserved for outputs: firstFileNumber, firstFileNumber+1, … (at most maxOutputs). */
  readonly firstFileNumber: number;
  /** How many numbers are reserved; the last reserved output takes whatever remains, past targetFileBytes. */
  readonly maxOutputs: number;
  /** Start a new output file once one reaches this many bytes (only between keys of different filter keys, so one key's versions stay in one file). */
  readonly targetFileBytes: number;
  /** True when nothing older than the inputs holds these keys: deletion markers can then be dropped. */
  readonly dropDeletes: boolean;
  /** How outputs are written; their properties are these merged under the merge's own ({@link MergeProperties}). */
  readonly writer: SegmentWriterOptions;
  /**
   * A merge filter: a module the merging thread imports (a specifier that thread can
   * import: a `file:` URL or a package name), exporting
   * `createMergeFilter(params) → (key, kind, value) => 'keep' | 'drop' | Uint8Array`,
   * or a name given to `registerMergeFilter` (merge-runner.ts) in that thread.
   * How retention cuts history. `params` must survive structured cloning.
   */
  readonly filter?: { readonly module: string; readonly params: unknown };
}

/**
 * Decides, in key order, the fate of each entry a merge would write (after the newest
 * source won its key, and after deletion markers were dropped under `dropDeletes`):
 * keep it, drop it, or keep it with a replacement value (only for a value, not for a
 * deletion marker). `value` is a view valid only during the call.
 */
export type MergeFilter = ((key: string, kind: EntryKind, value: Uint8Array) => 'keep' | 'drop' | Uint8Array) & {
  /**
   * What the filter did, once the merge has seen every entry (JSON-safe and
   * structured-cloneable): returned as {@link MergeResult.filterReport}, for the caller
   * to record with the merge's outputs (retention: the greatest seq it removed).
   */
  readonly report?: () => Readonly<Record<string, unknown>>;
};

/** What a filter module exports. */
export type CreateMergeFilter = (params: unknown) => MergeFilter;

/** What every output's properties hold, over the job's `writer.properties`. */
export interface MergeProperties {
  /** The job's output level. */
  readonly level: number;
  /** The job's inputs, newest first. */
  readonly inputs: readonly MergeInput[];
  /** This output's place among the job's outputs (0, 1, …). */
  readonly output: number;
}

/** The outcome of {@link runMerge}. */
export interface MergeResult {
  /** The outputs, in key order (each synced); empty when no entry survived. */
  readonly outputs: readonly SegmentInfo[];
  /** Entries in the inputs (every version of a key, every deletion marker). */
  readonly read: number;
  /** Entries in the outputs. */
  readonly written: number;
  /** `read - written`: hidden by a newer input, dropped deletion markers, and entries the filter dropped. */
  readonly dropped: number;
  /** Wall-clock milliseconds the merge took. */
  readonly ms: number;
  /** The filter's {@link MergeFilter.report}, when it has one. */
  readonly filterReport?: Readonly<Record<string, unknown>>;
}

/**
 * Merges don't fill the shared block cache: a scan reads every block once, and would only
 * push out the blocks reads need (as LevelDB's compactions read with fill_cache=false).
 */
const NO_CACHE: BlockCache = {
  get: () => undefined,
  set: () => {},
  evictFile: () => {},
  bytes: 0,
  budget: 0,
};

/**
 * The group a key must not be split from: its filter key, or (a key with fewer name parts
 * than the filter holds) the key alone — it cannot equal a filter key, which ends in a
 * terminator more.
 */
function groupOf(key: string, parts: number): string {
  return filterKeyOf(key, parts) ?? key;
}

/** Bytes an input is read ahead by. */
const READ_AHEAD_BYTES = 512 * 1024;

/**
 * An input read through a sliding window: a merge reads every block in order, and one
 * read call per 4 KiB block was a fifth of its time with the JavaScript CRC-32, and is
 * still 3–8% with zlib's (measured: 4 × 250k entries of 110 bytes, Node 20).
 *
 * Where the file can read into a buffer (`readInto`), the window is one buffer for the
 * whole merge, and what it hands out are copies (the reader copied its blocks out of a
 * larger read anyway). A fresh 512 KiB window per read lived long enough to be promoted
 * and stayed until a full GC: a merge worker grew by tens of MB (measured on a
 * 10M-version database: +35 MB over 8 s of merges). Elsewhere each window is a new
 * array, never written after it was read, so the views handed out stay valid.
 */
class ReadAheadFile implements RandomAccessFile {
  #window: Uint8Array = new Uint8Array(0);
  #start = 0;
  /** Bytes of the window that hold the file (fewer than its length only where the file ends). */
  #filled = 0;
  readonly #reuse: boolean;
  constructor(readonly inner: RandomAccessFile) {
    this.#reuse = inner.readInto !== undefined;
  }
  get name(): string {
    return this.inner.name;
  }
  size(): number {
    return this.inner.size();
  }
  read(offset: number, length: number): Uint8Array {
    if (offset < this.#start || offset + length > this.#start + this.#filled) {
      if (length >= READ_AHEAD_BYTES) return this.inner.read(offset, length);
      if (this.#reuse) {
        if (this.#window.length === 0) this.#window = new Uint8Array(READ_AHEAD_BYTES);
        this.#filled = this.inner.readInto!(offset, this.#window);
      } else {
        this.#window = this.inner.read(offset, READ_AHEAD_BYTES);
        this.#filled = this.#window.length;
      }
      this.#start = offset;
    }
    const from = offset - this.#start;
    // Short only where the file ends, as the interface says.
    const view = this.#window.subarray(from, Math.min(from + length, this.#filled));
    return this.#reuse ? view.slice() : view;
  }
  append(bytes: Uint8Array): number {
    return this.inner.append(bytes);
  }
  sync(): void {
    this.inner.sync();
  }
  truncate(length: number): void {
    this.inner.truncate(length);
  }
  close(): void {
    this.inner.close();
  }
}

function checkJob(job: MergeJob, filter: MergeFilter | undefined): void {
  const whole = (v: number, min: number): boolean => Number.isSafeInteger(v) && v >= min;
  if (job.inputs.length === 0) throw new InvalidArgumentError('a merge needs at least one input');
  for (const input of job.inputs) {
    const n = 'segment' in input ? input.segment : input.wal;
    if (!whole(n, 0)) throw new InvalidArgumentError(`a merge input must be a file number, not ${JSON.stringify(input)}`);
  }
  if (!whole(job.outputLevel, 0)) throw new InvalidArgumentError(`outputLevel must be an integer ≥ 0, not ${String(job.outputLevel)}`);
  if (!whole(job.firstFileNumber, 0)) throw new InvalidArgumentError(`firstFileNumber must be an integer ≥ 0, not ${String(job.firstFileNumber)}`);
  if (!whole(job.maxOutputs, 1)) throw new InvalidArgumentError(`maxOutputs must be an integer ≥ 1, not ${String(job.maxOutputs)}`);
  if (!(job.targetFileBytes > 0)) throw new InvalidArgumentError(`targetFileBytes must be > 0, not ${String(job.targetFileBytes)}`);
  // A filter named by the job but not loaded would silently keep what retention cuts.
  if (job.filter !== undefined && filter === undefined) {
    throw new InvalidArgumentError(`the job names the merge filter ${job.filter.module}: load it (loadMergeFilter) and pass it to runMerge`);
  }
}

/** Opens the inputs as cursors, newest first; `opened` collects what must be closed. */
function openInputs(dir: StorageDirectory, job: MergeJob, opened: SegmentReader[]): { cursors: EntryCursor[]; read: number } {
  const cursors: EntryCursor[] = [];
  let read = 0;
  for (const input of job.inputs) {
    if ('segment' in input) {
      const file = new ReadAheadFile(dir.open(segmentFileName(input.segment), 'read'));
      let reader: SegmentReader;
      try {
        reader = SegmentReader.open(file, input.segment, NO_CACHE);
      } catch (e) {
        file.close();
        throw e;
      }
      opened.push(reader);
      cursors.push(reader.cursor());
      read += reader.info.count;
    } else {
      // A rotated log: complete and synced, so its replay is exact (damage throws).
      const mem = new Memtable();
      for (const batch of replayWal(dir, input.wal).batches) {
        for (const e of batch) mem.put(e.key, e.kind, e.value);
        read += batch.length;
      }
      cursors.push(mem.cursor());
    }
  }
  return { cursors, read };
}

/**
 * Runs `job` synchronously over `dir`: reads the inputs (segments through
 * {@link SegmentReader}, logs through replayWal into a {@link Memtable}), writes the
 * surviving entries in key order through {@link SegmentWriter}s, each output synced, and
 * the directory synced once at the end. O(total entries × log(inputs)).
 *
 * Which entries survive: for each key, the newest input's entry; a deletion marker is
 * dropped when `job.dropDeletes`; then `filter` (required when the job names one; see
 * {@link loadMergeFilter}) decides.
 *
 * On any failure it closes and removes the outputs it created, then throws (CORRUPTION
 * for a damaged input, STORAGE_FULL / IO_ERROR from the directory, INVALID_ARGUMENT for
 * a bad job or a filter's bad answer). Never touches the inputs or the manifest.
 */
export function runMerge(dir: StorageDirectory, job: MergeJob, filter?: MergeFilter): MergeResult {
  const started = performance.now();
  checkJob(job, filter);
  const readers: SegmentReader[] = [];
  /** Names of outputs this run created, to remove on failure. */
  const created: string[] = [];
  const outputs: SegmentInfo[] = [];
  let file: RandomAccessFile | undefined;
  let writer: SegmentWriter | undefined;
  const parts = job.writer.filterKeyParts ?? 0;
  const base = job.writer.properties ?? {};
  let written = 0;
  try {
    const { cursors, read } = openInputs(dir, job, readers);
    const merged = new MergingCursor(cursors);
    /** Filter key of the output's last key once it reached its target size: cut at the next different one. */
    let cutAfter: string | undefined;
    let lastKey = '';
    for (merged.seekToFirst(); merged.valid(); merged.next()) {
      const kind = merged.kind();
      if (kind === KIND_DELETE && job.dropDeletes) continue;
      const key = merged.key();
      let value = merged.value();
      if (filter !== undefined) {
        const verdict = filter(key, kind, value);
        if (verdict === 'drop') continue;
        if (verdict !== 'keep') {
          if (!(verdict instanceof Uint8Array)) throw new InvalidArgumentError(`a merge filter returned ${String(verdict)}, not 'keep', 'drop' or a Uint8Array`, { details: { key } });
          if (kind === KIND_DELETE) throw new InvalidArgumentError('a merge filter cannot give a deletion marker a value', { details: { key } });
          value = verdict;
        }
      }
      if (writer !== undefined && cutAfter === undefined && outputs.length + 1 < job.maxOutputs && writer.estimatedBytes >= job.targetFileBytes) {
        cutAfter = groupOf(lastKey, parts);
      }
      if (writer !== undefined && cutAfter !== undefined && groupOf(key, parts) !== cutAfter) {
        outputs.push(writer.finish());
        file!.close();
        file = writer = cutAfter = undefined;
      }
      if (writer === undefined) {
        const n = job.firstFileNumber + outputs.length;
        const name = segmentFileName(n);
        file = dir.open(name, 'create');
        created.push(name);
        const properties: Record<string, unknown> = { ...base, level: job.outputLevel, inputs: job.inputs, output: outputs.length };
        writer = new SegmentWriter(file, n, { ...job.writer, properties });
      }
      writer.add(key, kind, value);
      lastKey = key;
      written++;
    }
    if (writer !== undefined) {
      outputs.push(writer.finish());
      file!.close();
      file = writer = undefined;
    }
    if (created.length > 0) dir.syncDirectory();
    const result: MergeResult = { outputs, read, written, dropped: read - written, ms: performance.now() - started };
    const report = filter?.report?.();
    return report === undefined ? result : { ...result, filterReport: report };
  } catch (e) {
    try {
      file?.close();
    } catch {
      // The merge's own error is the one to report.
    }
    for (const name of created) {
      try {
        dir.remove(name);
      } catch {
        // Left for the open-time sweep of files the manifest does not name.
      }
    }
    throw e;
  } finally {
    for (const r of readers) r.close();
  }
}
