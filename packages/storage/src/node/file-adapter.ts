/**
 * The durable adapter: one directory holding a lock file, the node id, and the
 * log-structured tree's files (manifest, write-ahead logs, segments; see
 * packages/storage/FORMAT.md), read and written through a {@link NodeDirectory}.
 *
 * Writes: each group commit is one record appended to the write-ahead log; the commit is
 * acknowledged once that write returned (the bytes are in the OS, so they survive the
 * process being killed). Policy `periodic` (default) then fdatasyncs within
 * `syncIntervalMs` (default 100 ms): a power loss can lose at most that window. Policy
 * `always` fdatasyncs before acknowledging; puts issued together share one fdatasync.
 * Flushes of full memtables and merges of segments run in worker threads.
 *
 * Opening reads the manifest and replays the logs not yet flushed (a torn tail past the
 * last synced point is cut and reported; lost synced data or a damaged file refuses to
 * open with CORRUPTION naming file and offset, unless `repair` is set). It reads no
 * segment: history stays on disk until asked for. A directory in the previous format
 * (snapshot + log) is converted first, once and crash-safely (see migrate-v1.ts).
 */
import * as fs from 'node:fs';
import { InvalidArgumentError, KoruError } from '@koru/engine';
import { recoveryOf, type OpenedStorage, type StorageAdapter } from '../adapter.js';
import { checkTreeOptions, treeOpenOptions, type TreeOptions } from '../directory-adapter.js';
import { IoError, StorageFullError } from '../errors.js';
import { LsmTree } from '../lsm/lsm-tree.js';
import { MANIFEST_FILE } from '../lsm/types.js';
import { settleNodeId } from '../node-id-format.js';
import type { RecoveryReport, RepairedDamage } from '../types.js';
import { VERSION_TREE_WRITER } from '../version-store.js';
import type { FileOps } from './fs-ops.js';
import { DirectoryLock, type LockHolder } from './lock.js';
import { migrateV1 } from './migrate-v1.js';
import { NodeDirectory } from './node-directory.js';
import { readNodeId, writeNodeId } from './node-id.js';
import { WorkerMergeRunner } from './worker-merge-runner.js';

/** Options of {@link FileAdapter}. */
export interface FileAdapterOptions extends TreeOptions {
  /**
   * Open a damaged database anyway: keep each log's whole batches before the damage, save
   * the damaged file aside, and say what was dropped in `recovery.repaired`. Without it,
   * damage refuses to open with CORRUPTION.
   */
  readonly repair?: boolean;
  /** File operations of the main thread's reads and writes (tests inject failures; merges in workers use node:fs). */
  readonly fileOps?: FileOps;
}

function ioError(what: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new StorageFullError(`${what}: the disk is full (${code}); nothing was stored`, e);
  return new IoError(`${what}: ${(e as Error)?.message ?? String(e)}`, e);
}

/** A database directory on the local file system. */
export class FileAdapter implements StorageAdapter {
  readonly name = 'file';
  readonly synchronous = false;
  readonly dir: string;
  readonly #options: FileAdapterOptions;
  #lock: DirectoryLock | undefined;
  #tree: LsmTree | undefined;
  #runners: WorkerMergeRunner[] = [];

  /** @throws InvalidArgumentError for options out of range */
  constructor(dir: string, options: FileAdapterOptions = {}) {
    checkTreeOptions(options);
    this.dir = dir;
    this.#options = options;
  }

  /** Records facts about the owner in the lock file (a server's URL). */
  updateLock(extra: Partial<LockHolder>): void {
    this.#lock?.update(extra);
  }

  async open(): Promise<OpenedStorage> {
    refuseFile(this.dir);
    try {
      fs.mkdirSync(this.dir, { recursive: true });
    } catch (e) {
      throw ioError(`cannot create the database directory ${this.dir}`, e);
    }
    this.#lock = DirectoryLock.acquire(this.dir);
    try {
      return await this.#open();
    } catch (e) {
      this.#release();
      if (e instanceof KoruError) throw e;
      throw ioError(`cannot open the database in ${this.dir}`, e);
    }
  }

  async #open(): Promise<OpenedStorage> {
    const o = this.#options;
    const repair = o.repair === true;
    const repaired: RepairedDamage[] = [];
    // A database of the previous format becomes this one before anything else reads it.
    const migration = await migrateV1(this.dir, { repair });
    let truncated: RecoveryReport['truncated'];
    if (migration !== undefined) {
      truncated = migration.recovery.truncated;
      for (const d of migration.recovery.repaired ?? []) repaired.push(d);
    }
    const hasData = fs.existsSync(`${this.dir}/${MANIFEST_FILE}`) || fs.readdirSync(this.dir).some((f) => /^\d{8}\.(kwal|kseg)$/.test(f));
    const settled = settleNodeId(readNodeId(this.dir), { file: `${this.dir}/NODE`, hasData, repair, write: (id) => writeNodeId(this.dir, id), byHand: true });
    const nodeId = settled.nodeId;
    if (settled.repaired !== undefined) repaired.push(settled.repaired);
    const dir = new NodeDirectory(this.dir, o.fileOps);
    const flush = new WorkerMergeRunner(this.dir);
    const merge = new WorkerMergeRunner(this.dir);
    this.#runners = [flush, merge];
    this.#tree = LsmTree.open({
      dir,
      flushRunner: flush,
      mergeRunner: merge,
      writer: VERSION_TREE_WRITER,
      ...treeOpenOptions(o),
      repair,
    });
    const found = recoveryOf(this.#tree);
    const recovery: RecoveryReport = {
      ...found,
      ...(truncated !== undefined && found.truncated === undefined ? { truncated } : {}),
      ...(repaired.length > 0 ? { repaired: [...repaired, ...(found.repaired ?? [])] } : {}),
      ...(migration !== undefined ? { migrated: { from: migration.from, versions: migration.versions, ms: migration.ms } } : {}),
    };
    return { nodeId, tree: this.#tree, recovery };
  }

  diskBytes(): number {
    return this.#tree?.diskBytes() ?? 0;
  }

  async close(): Promise<void> {
    try {
      // The tree closes the runners it was given (a flush, then stops a running merge).
      await this.#tree?.close();
    } finally {
      this.#release();
    }
  }

  #release(): void {
    if (this.#tree === undefined) for (const r of this.#runners) void r.close();
    this.#runners = [];
    this.#lock?.release();
    this.#lock = undefined;
  }
}

/**
 * A database is a directory. A file at that path is refused, and one that is a 1.0
 * database (a single JSON document, which 1.0 kept at ~/.korudelta/db) says how to bring
 * its data over rather than failing on mkdir.
 */
function refuseFile(dir: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    return; // absent (created next) or unreadable (mkdir says why)
  }
  if (stat.isDirectory()) return;
  let head = '';
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      const buf = Buffer.alloc(4096);
      head = buf.toString('utf8', 0, fs.readSync(fd, buf, 0, buf.length, 0));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // unreadable: refused as a file below
  }
  if (/^\s*\{/.test(head) && /"(current_state|history_log)"/.test(head)) {
    throw new InvalidArgumentError(
      `${dir} is a KoruDelta 1.0 database file; this version keeps a database in a directory: ` +
        `import the file into one with \`kdelta -d NEW_DIR import ${dir}\``,
    );
  }
  throw new InvalidArgumentError(`${dir} is a file, not a database directory`);
}
