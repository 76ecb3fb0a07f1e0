/**
 * The log-structured engine: a sorted map of binary-string keys to bytes whose data
 * lives in files and whose opening reads only the manifest. This file is its public
 * face and its read path; each step of the data's path has a file of its own:
 *
 * 1. tree-writes.ts — a batch is appended to the write-ahead log (all or nothing on
 *    replay), then applied to the memtable; a full memtable is frozen with its log.
 * 2. tree-flush.ts — the frozen logs become a level-0 segment in the flush runner's
 *    thread (a worker on Node): the main thread copies nothing.
 * 3. tree-files.ts — the manifest names the live segments (replaced atomically on each
 *    install); their readers, file numbers and pins.
 * 4. tree-merges.ts — segments merge into deeper levels (what to merge:
 *    compaction-picker.ts) on a second runner, so a long merge never holds up a flush.
 *
 * Around them: tree-open.ts (opening: the options and their defaults, recovery —
 * tree-recovery.ts — and the parts wired together), tree-checkpoint.ts (segments copied
 * whole to or from another tree), tree-status.ts (closed, stopped, the epoch),
 * tree-stats.ts.
 *
 * Read path: memtable → frozen memtables (newest first) → level-0 segments (newest
 * first) → one file per deeper level, through a shared, bounded block cache. Segment
 * readers are opened on first use (their index and filter read then), so opening the
 * tree reads the manifest and the unflushed logs only.
 *
 * Crash safety: files are written whole and synced before the manifest names them;
 * the manifest is replaced atomically; at open, segments it does not name (a merge
 * that never installed) and logs below its `logNumber` (already flushed) are deleted.
 * A kill at any moment therefore leaves the old manifest or the new one, never a mix.
 *
 * Cursors are synchronous: use one and drop it before the next await. Writes and
 * installs happen between tasks, and a cursor used after one throws rather than read
 * a file that may be gone.
 */
import { isKoruError } from '@koru/engine';
import { IoError } from '../errors.js';
import { murmur3 } from './bloom.js';
import type { RandomAccessFile } from './io.js';
import { KeyScan, type KeyVisitor } from './key-scan.js';
import { firstEndingAtOrAfter, LevelCursor } from './level-cursor.js';
import type { SegmentMeta } from './manifest.js';
import type { MergeRunner } from './merge-runner.js';
import { MergingCursor } from './merging-cursor.js';
import { BLOOM_SEED_1, BLOOM_SEED_2, filterKeyOf } from './segment-format.js';
import type { SegmentReader } from './segment-reader.js';
import { pinCheckpoint, type IncomingSegments, type TreeCheckpoint } from './tree-checkpoint.js';
import { TreeCursor, type LsmCursor } from './tree-cursor.js';
import type { TreeFiles } from './tree-files.js';
import type { TreeFlush } from './tree-flush.js';
import type { MergeFilterHook, TreeMerges } from './tree-merges.js';
import { openTreeParts, type LsmTreeOptions, type TreeParts } from './tree-open.js';
import type { LsmRecovery } from './tree-recovery.js';
import { treeStats, type LsmStats } from './tree-stats.js';
import type { TreeStatus } from './tree-status.js';
import type { TreeWrites } from './tree-writes.js';
import { KIND_DELETE, KIND_PUT, type Entry, type EntryCursor, type Found } from './types.js';

export type { LsmCursor } from './tree-cursor.js';
export type { KeyVisitor } from './key-scan.js';
export type { LsmRecovery } from './tree-recovery.js';
export type { TreeCheckpoint } from './tree-checkpoint.js';
export type { MergeFilterHook } from './tree-merges.js';
export type { LsmStats } from './tree-stats.js';
export type { LsmTreeOptions } from './tree-open.js';
export { MAX_KEPT_LOGS } from './tree-writes.js';

/** Reads between two checks for finished background work (a countdown: cheap on every read). */
const READS_PER_POLL = 64;

/** The engine. Open with {@link LsmTree.open}. */
export class LsmTree {
  readonly #status: TreeStatus;
  readonly #files: TreeFiles;
  readonly #flushRunner: MergeRunner;
  readonly #mergeRunner: MergeRunner;
  readonly #writes: TreeWrites;
  readonly #flush: TreeFlush;
  readonly #merges: TreeMerges;
  readonly #incoming: IncomingSegments;
  /** Level-0 files past which writes wait for a merge. */
  readonly #l0Stop: number;
  readonly #filterParts: number;
  readonly #recovery: LsmRecovery;
  /** Kept for {@link scanKey}: its segment cursors are reused from one read to the next. */
  readonly #keyScan = new KeyScan();
  /** Reads left before {@link #startRead} next collects finished background work. */
  #readsToPoll = READS_PER_POLL;

  private constructor(parts: TreeParts) {
    this.#status = parts.status;
    this.#files = parts.files;
    this.#flushRunner = parts.flushRunner;
    this.#mergeRunner = parts.mergeRunner;
    this.#writes = parts.writes;
    this.#flush = parts.flush;
    this.#merges = parts.merges;
    this.#incoming = parts.incoming;
    this.#l0Stop = parts.l0Stop;
    this.#filterParts = parts.filterParts;
    this.#recovery = parts.recovery;
  }

  /** Changes on every write and install: a cursor made before refuses to go on. */
  get epoch(): number {
    return this.#status.epoch;
  }

  /**
   * Opens (or creates) the tree in `options.dir`: reads the manifest, deletes files a
   * crash left behind, and replays the logs not yet flushed. Reads no segment.
   * @throws CorruptionError naming the damaged file; IoError
   */
  static open(options: LsmTreeOptions): LsmTree {
    const tree = new LsmTree(openTreeParts(options));
    if (!tree.#writes.smallEnoughToKeep()) tree.#flush.schedule();
    tree.#merges.resumeAfter(options.resumeMergesAfterMs ?? 1000);
    return tree;
  }

  /** What opening found in the logs. */
  get recovery(): LsmRecovery {
    return this.#recovery;
  }

  /** The properties stored in the manifest by {@link setProperties}. */
  get properties(): Readonly<Record<string, unknown>> {
    return this.#files.manifest.properties;
  }

  /** Replaces the stored properties (one atomic manifest write). */
  setProperties(properties: Readonly<Record<string, unknown>>): void {
    this.#status.checkOpen();
    this.#files.install({ ...this.#files.manifest, properties });
  }

  /** Sets (or, with undefined, removes) the hook that filters merges (see {@link MergeFilterHook}). */
  setMergeFilter(hook: MergeFilterHook | undefined): void {
    this.#merges.setFilter(hook);
  }

  // ---- writes (see tree-writes.ts) -------------------------------------------

  /**
   * Writes a batch: appended to the log (synced first under `always`), then visible.
   * All of it or none survives a crash.
   * @throws STORAGE_FULL / IO_ERROR with nothing of the batch applied
   */
  write(entries: readonly Entry[]): void {
    this.#status.checkWritable();
    this.#writes.write(entries);
  }

  /** Puts one key (a batch of one). */
  put(key: string, value: Uint8Array): void {
    this.write([{ key, kind: KIND_PUT, value }]);
  }

  /** Writes a deletion marker for `key`. */
  delete(key: string): void {
    this.write([{ key, kind: KIND_DELETE, value: new Uint8Array(0) }]);
  }

  /**
   * Resolves once the frozen memtables are few enough to take more writes: callers
   * that write faster than flushes complete wait here (undefined: no need).
   */
  writable(): Promise<void> | undefined {
    const flushing = this.#flush.running;
    if (this.#writes.frozen.length >= 2 && flushing !== undefined) return flushing.then(() => this.writable());
    // Level 0 is read by every lookup: past its stop mark, writes wait for a merge.
    const merging = this.#merges.running;
    if (this.#files.levels[0]!.length >= this.#l0Stop && merging !== undefined) return merging.then(() => this.writable());
    return undefined;
  }

  /** Syncs the log now. */
  sync(): void {
    this.#status.checkWritable();
    this.#writes.sync();
  }

  // ---- reads -----------------------------------------------------------------

  /** The value of `key`, or undefined (absent or deleted). */
  get(key: string): Uint8Array | undefined {
    const found = this.#find(key);
    return found === undefined || found.kind === KIND_DELETE ? undefined : found.value;
  }

  /**
   * Every read starts here. Every {@link READS_PER_POLL} reads it collects finished
   * background work without waiting for a macrotask (see {@link MergeRunner.poll}), so
   * reads in a loop that never yields to the event loop still get a merge's fewer files.
   */
  #startRead(): void {
    this.#status.checkOpen();
    if (--this.#readsToPoll > 0) return;
    this.#readsToPoll = READS_PER_POLL;
    this.#flushRunner.poll?.();
    if (this.#mergeRunner !== this.#flushRunner) this.#mergeRunner.poll?.();
    this.#merges.resumeIfDue();
  }

  #find(key: string): Found | undefined {
    this.#startRead();
    const writes = this.#writes;
    let f = writes.mem.get(key);
    if (f !== undefined) return f;
    for (const fr of writes.frozen) if ((f = fr.mem.get(key)) !== undefined) return f;
    const parts = this.#filterParts;
    const filterKey = filterKeyOf(key, parts);
    // The filter key's hashes, made once for every segment asked (0/0 until then).
    let hashed = false;
    let h1 = 0;
    let h2 = 0;
    const levels = this.#files.levels;
    for (let l = 0; l < levels.length; l++) {
      const level = levels[l]!;
      // Level 0's files overlap: each may hold the key. Deeper levels: one file at most.
      const n = l === 0 ? level.length : 1;
      for (let i = 0; i < n; i++) {
        const s = l === 0 ? level[i]! : this.#fileFor(level, key);
        if (s === undefined || s.count === 0 || key < s.firstKey || key > s.lastKey) continue;
        const r = this.#files.reader(s);
        if (filterKey !== undefined) {
          if (r.filterKeyParts === parts) {
            if (!hashed) {
              h1 = murmur3(filterKey, BLOOM_SEED_1);
              h2 = murmur3(filterKey, BLOOM_SEED_2);
              hashed = true;
            }
            if (!r.mayContainHashed(filterKey, h1, h2)) continue;
          } else if (!r.mayContain(key)) continue; // its own rule cuts the whole key
        }
        if ((f = r.get(key, filterKey !== undefined)) !== undefined) return f;
      }
    }
    return undefined;
  }

  /**
   * A cursor over every live entry in key order (deletion markers hidden unless
   * `deletes`). With `filterKey`, segments whose filter rules it out are skipped: then
   * only keys of that filter key may be trusted (seek to its prefix and stop after it).
   */
  cursor(options: { readonly filterKey?: string; readonly deletes?: boolean } = {}): LsmCursor {
    this.#startRead();
    const { filterKey } = options;
    const sources: EntryCursor[] = [this.#writes.mem.cursor()];
    for (const fr of this.#writes.frozen) sources.push(fr.mem.cursor());
    const levels = this.#files.levels;
    for (const s of levels[0]!) {
      if (s.count === 0) continue;
      if (filterKey !== undefined && (filterKey > s.lastKey || !this.#mayContainFilterKey(this.#files.reader(s), filterKey))) continue;
      sources.push(this.#files.reader(s).cursor());
    }
    for (let l = 1; l < levels.length; l++) {
      let files = levels[l]!;
      if (files.length === 0) continue;
      if (filterKey !== undefined) {
        // Entries of one filter key are never split between files of a level.
        const s = this.#fileFor(files, filterKey) ?? this.#fileAfter(files, filterKey);
        if (s === undefined || !this.#mayContainFilterKey(this.#files.reader(s), filterKey)) continue;
        files = [s];
      }
      sources.push(files.length === 1 ? this.#files.reader(files[0]!).cursor() : new LevelCursor(files, (s) => this.#files.reader(s).cursor()));
    }
    return new TreeCursor(new MergingCursor(sources), () => this.#status.epoch, options.deletes === true);
  }

  /**
   * Visits the live entries whose key starts with `prefix` and is ≥ `from` (default
   * `prefix`), ascending, until `visit` returns false: what a {@link cursor} with
   * `filterKey: prefix`, seeked to `from` and stopped after the prefix, sees — read
   * without a general cursor (see key-scan.ts). When every key with the prefix has the
   * same filter key (the tree's `filterKeyParts` > 0 and the prefix holds that many
   * names: a version store key's prefix), the Bloom filters skip the files without it
   * and each deeper level is read in one file; any other prefix is read from every file
   * whose range meets it. `visit` must not write to the tree (that throws).
   * @throws InvalidArgumentError for a `from` outside `prefix`; CorruptionError; IoError
   */
  scanKey(prefix: string, visit: KeyVisitor, from: string = prefix): void {
    this.#startRead();
    // One scan is kept for the common case; a visitor reading another prefix gets its own.
    const scan = this.#keyScan.busy ? new KeyScan() : this.#keyScan;
    scan.begin();
    try {
      const { mem, frozen } = this.#writes;
      if (mem.count > 0) scan.addCursor(mem.cursor());
      for (const fr of frozen) if (fr.mem.count > 0) scan.addCursor(fr.mem.cursor());
      const parts = this.#filterParts;
      // The prefix's filter key, when it is every such key's (else the filters cannot tell).
      const filterKey = parts > 0 ? filterKeyOf(prefix, parts) : undefined;
      let hashed = false;
      let h1 = 0;
      let h2 = 0;
      const mayHold = (s: SegmentMeta): SegmentReader | undefined => {
        if (s.count === 0 || s.lastKey < from || (s.firstKey > prefix && !s.firstKey.startsWith(prefix))) return undefined;
        const r = this.#files.reader(s);
        // A file written under another rule has filters over other keys: not asked.
        if (filterKey === undefined || r.filterKeyParts !== parts) return r;
        if (!hashed) {
          h1 = murmur3(filterKey, BLOOM_SEED_1);
          h2 = murmur3(filterKey, BLOOM_SEED_2);
          hashed = true;
        }
        return r.mayContainHashed(filterKey, h1, h2) ? r : undefined;
      };
      const levels = this.#files.levels;
      for (const s of levels[0]!) {
        const r = mayHold(s);
        if (r !== undefined) scan.addSegment(r);
      }
      for (let l = 1; l < levels.length; l++) {
        const files = levels[l]!;
        // The first file ending at or after `from` holds the first key ≥ it; entries of
        // one filter key are never split between files of a level. Other prefixes: each
        // file meeting the range (the files of a level are disjoint, so each is a source).
        for (let i = firstEndingAtOrAfter(files, from); i < files.length; i++) {
          const r = mayHold(files[i]!);
          if (r !== undefined) scan.addSegment(r);
          if (filterKey !== undefined || !files[i]!.lastKey.startsWith(prefix)) break;
        }
      }
    } catch (e) {
      scan.busy = false;
      throw e;
    }
    const epoch = this.#status.epoch;
    scan.run(prefix, from, visit, () => this.#status.epoch === epoch);
  }

  /**
   * Whether a segment may hold keys of `filterKey` (a filter key of the tree's rule). A
   * segment written under a whole-key rule (filterKeyParts 0) while the tree's rule
   * groups keys cannot tell: its filter holds whole keys, not their prefixes.
   */
  #mayContainFilterKey(r: SegmentReader, filterKey: string): boolean {
    return (r.filterKeyParts === 0 && this.#filterParts !== 0) || r.mayContain(filterKey);
  }

  /** The file of a level (by first key) whose range holds `key`. */
  #fileFor(files: readonly SegmentMeta[], key: string): SegmentMeta | undefined {
    const s = files[firstEndingAtOrAfter(files, key)];
    return s !== undefined && s.firstKey <= key ? s : undefined;
  }

  /** The first file of a level starting after `key` (a filter key's entries start after it). */
  #fileAfter(files: readonly SegmentMeta[], key: string): SegmentMeta | undefined {
    return files.find((f) => f.firstKey >= key);
  }

  // ---- flushes and merges (see tree-flush.ts, tree-merges.ts) ---------------

  /** Flushes the memtable into a segment now and waits for it. */
  async flush(): Promise<void> {
    this.#status.checkWritable();
    this.#writes.rotate();
    this.#flush.now();
    while (this.#flush.running !== undefined) await this.#flush.running;
    if (this.#writes.frozen.length > 0) throw new IoError(`flush failed: ${this.#writes.frozen.length} memtables remain unflushed`);
  }

  /**
   * Flushes, then merges every segment into one sorted run (deletion markers dropped),
   * in the merge runner's thread; reads and writes go on meanwhile.
   */
  async compact(): Promise<void> {
    await this.flush();
    await this.#merges.full();
  }

  /** Resolves once no flush or merge is running or due (for tests and benchmarks). */
  async idle(): Promise<void> {
    this.#merges.resumeNow();
    // Logs kept from an earlier session are flushed too: idle means nothing left to do.
    this.#flush.schedule();
    while (!this.#status.closed && (this.#flush.running !== undefined || this.#merges.running !== undefined || this.#writes.frozen.length > 0)) {
      await (this.#flush.running ?? this.#merges.running ?? new Promise((r) => setTimeout(r, 1)));
    }
  }

  // ---- checkpoints (see tree-checkpoint.ts) ----------------------------------

  /**
   * Flushes the memtable, then pins the live segments: until `release()`, no merge
   * deletes them (a merge that replaces one leaves its file until then), so they can be
   * streamed whole while writes and merges go on. The segments hold every write made
   * before the call (flushes take whole batches, in log order, so they are a consistent
   * prefix of the writes).
   * @throws ClosedError; IoError when the flush fails
   */
  async checkpoint(): Promise<TreeCheckpoint> {
    await this.flush();
    this.#status.checkOpen();
    return pinCheckpoint(this.#files, this.#status);
  }

  /**
   * Reserves file number `fileNumber` for a segment received from elsewhere (see
   * {@link installIncoming}): a segment names its own number inside, so a copy keeps
   * the donor's, and this tree's later files are numbered after it. The first
   * reservation writes the manifest if there is none yet, so a crash before the install
   * leaves a directory that opens empty (its received files are deleted then as segments
   * no manifest names).
   * @throws RangeError when the number is taken (a live or reserved segment, an existing file); ClosedError; IoError
   */
  reserveIncoming(fileNumber: number): void {
    this.#status.checkWritable();
    this.#incoming.reserve(fileNumber);
  }

  /** Opens the file of a reserved incoming segment (`create` for the first bytes, `append` after). @throws RangeError for a number not reserved */
  openIncoming(fileNumber: number, mode: 'create' | 'append'): RandomAccessFile {
    this.#status.checkWritable();
    return this.#incoming.open(fileNumber, mode);
  }

  /** Deletes reserved incoming segments that will not be installed. */
  dropIncoming(fileNumbers: readonly number[]): void {
    this.#incoming.drop(fileNumbers);
  }

  /**
   * Installs received segments (reserved with {@link reserveIncoming}, written whole and
   * synced) as the whole content of this tree, in one manifest swap. Each is checked
   * first — its footer, index, properties and every block's checksum, its key order
   * (see verifyIncoming) — and level ≥ 1 files must not overlap; nothing is installed
   * unless all pass. Only an empty tree (no segment, nothing written) takes them.
   * @throws CorruptionError { file, offset } for a damaged segment; RangeError for
   *   overlapping levels or a tree that is not empty; IoError
   */
  installIncoming(incoming: ReadonlyArray<{ readonly fileNumber: number; readonly level: number }>, properties: Readonly<Record<string, unknown>> = {}): void {
    this.#status.checkWritable();
    if (this.#files.manifest.segments.length > 0 || this.#writes.mem.count > 0 || this.#writes.frozen.length > 0) throw new RangeError('segments can only be installed into an empty tree');
    // The active log is still empty (checked above): logs below it are none.
    this.#incoming.install(incoming, properties, this.#writes.walNumber);
    this.#status.epoch++;
    this.#merges.schedule();
  }

  // ---- state -----------------------------------------------------------------

  /** Levels, memtables, cache and readers. */
  stats(): LsmStats {
    return treeStats(this.#files, this.#writes, this.#flush.count, this.#merges.count);
  }

  /** The live segments (as the manifest names them). */
  segments(): readonly SegmentMeta[] {
    return this.#files.manifest.segments;
  }

  /** Bytes of every file of the tree (segments and logs). */
  diskBytes(): number {
    let n = this.#writes.logBytes();
    for (const s of this.#files.manifest.segments) n += s.bytes;
    return n;
  }

  /**
   * Flushes the memtable (so the next open replays no log), stops a running merge (its
   * inputs stay live; it runs again after the next open), closes the runners and
   * releases every file. The tree owns its runners. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#status.closed) return;
    if (this.#status.broken === undefined) {
      try {
        // Little unflushed: left in the logs (synced below) for the next open to replay.
        if (this.#writes.smallEnoughToKeep()) await this.#flush.running;
        else await this.flush();
      } catch (e) {
        // The log still holds everything; the next open replays it.
        if (!isKoruError(e)) throw e;
      }
    }
    this.#status.closed = true;
    this.#status.epoch++;
    if (this.#mergeRunner !== this.#flushRunner) await this.#mergeRunner.close();
    while (this.#merges.running !== undefined || this.#flush.running !== undefined) await (this.#merges.running ?? this.#flush.running);
    await this.#flushRunner.close();
    this.#flush.stop();
    this.#merges.stop();
    try {
      this.#writes.close();
    } finally {
      this.#files.close();
    }
  }
}
