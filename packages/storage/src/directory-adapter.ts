/**
 * A durable adapter over any {@link StorageDirectory}: the engine's tree plus a `NODE`
 * file, with FileAdapter's rules (see node/file-adapter.ts) but no node:fs, so it runs in
 * a browser over OPFS or IndexedDB (`@koru/storage/browser`), and in tests over a
 * {@link MemoryDirectory}. Merges run on the calling thread (an {@link InlineMergeRunner}):
 * in a browser the engine already lives in a worker, so blocking it blocks no page.
 *
 * Two optional directory capabilities are used when present:
 * - {@link PersistingDirectory.persist} (a directory that persists asynchronously, like
 *   IndexedDB): the adapter's `whenDurable` calls it, so the commit queue acknowledges a
 *   write only once it is persisted; `close` persists last.
 * - {@link ReservingDirectory.reserve} (a directory with a bounded set of file slots, like
 *   the OPFS access-handle pool): awaited before each flush or merge with the number of
 *   files the job may create, because the job then creates them synchronously.
 */
import { InvalidArgumentError, KoruError } from '@koru/engine';
import { recoveryOf, type OpenedStorage, type StorageAdapter } from './adapter.js';
import type { StorageDirectory } from './lsm/io.js';
import { InlineMergeRunner, type MergeRunner } from './lsm/merge-runner.js';
import type { MergeJob, MergeResult } from './lsm/merge.js';
import { LsmTree, type LsmTreeOptions } from './lsm/lsm-tree.js';
import { MANIFEST_FILE } from './lsm/types.js';
import { decodeNodeId, encodeNodeId, NODE_FILE, settleNodeId } from './node-id-format.js';
import type { RecoveryReport, RepairedDamage, SyncPolicy } from './types.js';
import { VERSION_TREE_WRITER } from './version-store.js';

/** A directory that persists its changes asynchronously (see {@link DirectoryAdapter}). */
export interface PersistingDirectory extends StorageDirectory {
  /** Resolves once every change made so far is persisted; rejects when persisting failed. */
  persist(): Promise<void>;
}

/** A directory whose file creations need room prepared asynchronously (see {@link DirectoryAdapter}). */
export interface ReservingDirectory extends StorageDirectory {
  /** Resolves once at least `files` files can be created synchronously. */
  reserve(files: number): Promise<void>;
}

/** The tree's options a durable adapter takes (FileAdapter's and DirectoryAdapter's). */
export interface TreeOptions {
  /** `periodic` (default): sync within `syncIntervalMs`; `always`: before every acknowledgement. */
  readonly sync?: SyncPolicy;
  /** The loss window of `periodic`, in ms (default 100). */
  readonly syncIntervalMs?: number;
  /** Bytes of recent writes kept in memory before they are flushed to a segment (default 8 MiB). */
  readonly memtableBytes?: number;
  /** The block cache's budget in bytes (default 16 MiB). */
  readonly cacheBytes?: number;
  /** Unflushed writes left in their logs at close while under this many bytes (default 256 KiB; 0: close always flushes). */
  readonly keepLogBytes?: number;
}

/** Options of {@link DirectoryAdapter}. */
export interface DirectoryAdapterOptions extends TreeOptions {
  /** What `stats().adapter` reports: 'opfs', 'indexeddb', … (default 'directory'). */
  readonly name?: string;
  /**
   * Open a damaged database anyway (see FileAdapter's `repair`): damaged logs keep their
   * whole batches before the damage, a missing or damaged NODE gets a new id; what was
   * dropped is in `recovery.repaired`. Without it, damage refuses to open with CORRUPTION.
   */
  readonly repair?: boolean;
}

/** Checks a number option: an integer in [min, max]. */
function checkInt(name: string, v: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (v !== undefined && !(Number.isSafeInteger(v) && v >= min && v <= max)) {
    throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, not ${String(v)}`);
  }
}

/** {@link TreeOptions} as `LsmTree.open` takes them (sync defaults to `periodic`). */
export function treeOpenOptions(o: TreeOptions): Partial<Pick<LsmTreeOptions, 'sync' | 'syncIntervalMs' | 'memtableBytes' | 'cache' | 'keepLogBytes'>> {
  return {
    sync: o.sync ?? 'periodic',
    ...(o.syncIntervalMs !== undefined ? { syncIntervalMs: o.syncIntervalMs } : {}),
    ...(o.memtableBytes !== undefined ? { memtableBytes: o.memtableBytes } : {}),
    ...(o.cacheBytes !== undefined ? { cache: o.cacheBytes } : {}),
    ...(o.keepLogBytes !== undefined ? { keepLogBytes: o.keepLogBytes } : {}),
  };
}

/** Checks {@link TreeOptions} (every durable adapter's). @throws InvalidArgumentError */
export function checkTreeOptions(options: TreeOptions): void {
  if (options.sync !== undefined && options.sync !== 'always' && options.sync !== 'periodic') {
    throw new InvalidArgumentError(`sync must be 'always' or 'periodic', not ${String(options.sync)}`);
  }
  checkInt('syncIntervalMs', options.syncIntervalMs, 0, 60_000);
  checkInt('memtableBytes', options.memtableBytes, 1024);
  checkInt('cacheBytes', options.cacheBytes, 0);
  checkInt('keepLogBytes', options.keepLogBytes, 0);
}

/** Checks {@link DirectoryAdapterOptions}. @throws InvalidArgumentError */
export function checkDirectoryAdapterOptions(options: DirectoryAdapterOptions): void {
  checkTreeOptions(options);
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name.length === 0)) {
    throw new InvalidArgumentError(`name must be a non-empty string, not ${String(options.name)}`);
  }
}

function isPersisting(dir: StorageDirectory): dir is PersistingDirectory {
  return typeof (dir as Partial<PersistingDirectory>).persist === 'function';
}

function isReserving(dir: StorageDirectory): dir is ReservingDirectory {
  return typeof (dir as Partial<ReservingDirectory>).reserve === 'function';
}

/** Runs jobs inline, after the directory made room for the files each may create. */
class ReservingRunner implements MergeRunner {
  readonly #inner: InlineMergeRunner;
  readonly #dir: ReservingDirectory;

  constructor(dir: ReservingDirectory) {
    this.#dir = dir;
    this.#inner = new InlineMergeRunner(dir);
  }

  async run(job: MergeJob): Promise<MergeResult> {
    // A merge creates its outputs synchronously: up to maxOutputs, plus what a log rotation
    // (a log and its sidecar) or a manifest replacement may take meanwhile.
    await this.#dir.reserve(job.maxOutputs + 4);
    return this.#inner.run(job);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

/** The engine over a {@link StorageDirectory}, with a NODE file (see the module doc). */
export class DirectoryAdapter implements StorageAdapter {
  readonly name: string;
  readonly synchronous = false;
  readonly dir: StorageDirectory;
  readonly #options: DirectoryAdapterOptions;
  #tree: LsmTree | undefined;
  #opened = false;

  /** @throws InvalidArgumentError for options out of range */
  constructor(dir: StorageDirectory, options: DirectoryAdapterOptions = {}) {
    checkDirectoryAdapterOptions(options);
    this.dir = dir;
    this.name = options.name ?? 'directory';
    this.#options = options;
    if (isPersisting(dir)) {
      // Only defined when it does something: a directory without a barrier costs the commit queue nothing.
      this.whenDurable = () => dir.persist();
    }
  }

  /** See {@link StorageAdapter.whenDurable}: set when the directory persists asynchronously. */
  readonly whenDurable?: () => Promise<void> | undefined;

  async open(): Promise<OpenedStorage> {
    if (this.#opened) throw new InvalidArgumentError('this adapter was opened already: make a new one');
    this.#opened = true;
    const o = this.#options;
    const dir = this.dir;
    const repair = o.repair === true;
    const hasData = dir.list().some((f) => f === MANIFEST_FILE || /^\d{8}\.(kwal|kseg)$/.test(f));
    const settled = settleNodeId(decodeNodeId(dir.readAll(NODE_FILE)), {
      file: `${dir.location}/${NODE_FILE}`,
      hasData,
      repair,
      write: (id) => dir.writeAtomic(NODE_FILE, encodeNodeId(id)),
      byHand: false,
    });
    const nodeId = settled.nodeId;
    const repaired: RepairedDamage[] = settled.repaired !== undefined ? [settled.repaired] : [];
    if (isReserving(dir)) await dir.reserve(8);
    const flush: MergeRunner = isReserving(dir) ? new ReservingRunner(dir) : new InlineMergeRunner(dir);
    const merge: MergeRunner = isReserving(dir) ? new ReservingRunner(dir) : new InlineMergeRunner(dir);
    try {
      this.#tree = LsmTree.open({
        dir,
        flushRunner: flush,
        mergeRunner: merge,
        writer: VERSION_TREE_WRITER,
        ...treeOpenOptions(o),
        repair,
      });
    } catch (e) {
      void flush.close();
      void merge.close();
      throw e;
    }
    // What opening did (a new NODE, a cut tail) is persisted before the store starts.
    if (isPersisting(dir)) await dir.persist();
    const found = recoveryOf(this.#tree);
    const recovery: RecoveryReport = repaired.length > 0 ? { ...found, repaired: [...repaired, ...(found.repaired ?? [])] } : found;
    return { nodeId, tree: this.#tree, recovery };
  }

  /** The sum of the directory's file sizes. */
  diskBytes(): number {
    let n = 0;
    for (const name of this.dir.list()) {
      try {
        const f = this.dir.open(name, 'read');
        n += f.size();
        f.close();
      } catch (e) {
        // A file removed meanwhile (a merge's leftovers) counts nothing.
        if (!(e instanceof KoruError)) throw e;
      }
    }
    return n;
  }

  /** Flushes and closes the tree, then persists what closing wrote (a persisting directory). */
  async close(): Promise<void> {
    await this.#tree?.close();
    if (this.#tree !== undefined && isPersisting(this.dir)) await this.dir.persist();
  }
}
