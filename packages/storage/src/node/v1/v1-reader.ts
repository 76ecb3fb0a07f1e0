/**
 * The durable adapter: one directory holding a lock file, the node id, the newest
 * snapshot and the write-ahead log written since it.
 *
 * Writes: each group commit is one `write` of its records at the end of the log; the
 * commit is acknowledged once that call returned (the bytes are in the OS, so they
 * survive the process being killed). Policy `periodic` (default) then fdatasyncs
 * within `syncIntervalMs` (default 100 ms): a power loss can lose at most that
 * window. Policy `always` fdatasyncs before acknowledging; puts issued together share
 * one fdatasync. File I/O is synchronous on purpose: a small write plus fdatasync
 * costs less than a thread-pool round trip, and the commit queue batches everything
 * that arrives while it runs.
 *
 * Opening: the snapshot's metadata is checked and loaded, the log is replayed; a torn
 * tail (a crash mid-write, past the SYNCED checkpoint, nothing valid after) is cut off
 * and reported; lost acknowledged data, a missing snapshot or a damaged NODE refuse to
 * open with CORRUPTION naming file and offset (log-scan.ts, checkpoint.ts, node-id.ts),
 * unless `repair` is set.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { deepFreeze, InvalidArgumentError, KoruError, type JsonValue } from '@koru/engine';
import type { CommitEntry, LoadedState, Relocation, ReplayEntry, SnapshotSource, StorageAdapter } from '../adapter.js';
import { CorruptionError, IoError, StorageFullError } from '../errors.js';
import type { RecoveryReport, RepairedDamage, SyncPolicy } from '../types.js';
import { fsyncDir, nodeFileOps, readFully, writeFully, type FileOps } from './fs-ops.js';
import { BlockReader } from './block-reader.js';
import { DirectoryLock, type LockHolder } from './lock.js';
import { CheckpointWriter, readCheckpoint, type Checkpoint } from './checkpoint.js';
import { checkRecord, encodeBatch, LOG_HEADER_BYTES, LOG_MAGIC, logHeader } from './log-format.js';
import { describeDamage, scanLog } from './log-scan.js';
import { randomNodeId, readNodeId, writeNodeId, type NodeIdFile } from './node-id.js';
import { readSnapshot, writeSnapshot } from './snapshot-format.js';

/** Options of {@link FileAdapter}. */
export interface FileAdapterOptions {
  /** `periodic` (default): fdatasync within `syncIntervalMs`; `always`: before every acknowledgement. */
  readonly sync?: SyncPolicy;
  /** The loss window of `periodic`, in ms (default 100). */
  readonly syncIntervalMs?: number;
  /** Write a snapshot once the log exceeds this many bytes and a quarter of the snapshot's size (default 32 MiB). */
  readonly snapshotAfterBytes?: number;
  /**
   * Open a damaged database anyway: keep the log's whole batches before the damage, save
   * the damaged file aside (`<log>.damaged-<time>`), and say what was dropped in
   * `recovery.repaired`. Without it, damage refuses to open with CORRUPTION.
   */
  readonly repair?: boolean;
  /** File operations (tests inject failures). */
  readonly fileOps?: FileOps;
}

const name = (kind: 'snapshot' | 'log', gen: number) =>
  `${kind}-${String(gen).padStart(6, '0')}.${kind === 'snapshot' ? 'kds' : 'kdl'}`;

function nodeIdCorruption(dir: string, node: NodeIdFile): CorruptionError {
  const file = join(dir, 'NODE');
  const why = node.state === 'damaged' ? `is damaged (${node.why})` : 'is missing';
  return new CorruptionError(
    `${file} ${why}: the database's node id is unknown, and a new one would split this node's history; refusing to ` +
      `open (write the id, the 16 hex digits of the "n" field of this node's log records, into NODE, or open with ` +
      `repair, which re-derives it when every stored version names one node)`,
    { file, offset: 0 },
  );
}

/** fsyncs a file by path. */
function fsyncFile(path: string): void {
  const fd = fs.openSync(path, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
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
  readonly #ops: FileOps;
  readonly #sync: SyncPolicy;
  readonly #syncInterval: number;
  readonly #snapshotAfter: number;
  readonly #repair: boolean;
  readonly #checkpoint: CheckpointWriter;
  #lock: DirectoryLock | undefined;
  #gen = 0;
  #logFd = -1;
  #logSize = 0;
  #snapFd = -1;
  #snapBlocks: BlockReader | undefined;
  /** Where the open snapshot's values section ends (carried over by the next snapshot). */
  #snapValuesEnd = 0;
  #snapSize = 0;
  #scratch = { buf: Buffer.allocUnsafe(64 * 1024) };
  #readBuf = Buffer.allocUnsafe(64 * 1024);
  #syncTimer: ReturnType<typeof setTimeout> | undefined;
  #dirty = false;
  #broken: Error | undefined;

  constructor(dir: string, options: FileAdapterOptions = {}) {
    this.dir = dir;
    this.#ops = options.fileOps ?? nodeFileOps;
    this.#sync = options.sync ?? 'periodic';
    this.#syncInterval = options.syncIntervalMs ?? 100;
    this.#snapshotAfter = options.snapshotAfterBytes ?? 32 * 1024 * 1024;
    this.#repair = options.repair === true;
    this.#checkpoint = new CheckpointWriter(this.#ops, dir);
  }

  /** Records facts about the owner in the lock file (a server's URL). */
  updateLock(extra: Partial<LockHolder>): void {
    this.#lock?.update(extra);
  }

  open(): LoadedState {
    refuseFile(this.dir);
    try {
      fs.mkdirSync(this.dir, { recursive: true });
    } catch (e) {
      throw ioError(`cannot create the database directory ${this.dir}`, e);
    }
    this.#lock = DirectoryLock.acquire(this.dir);
    try {
      return this.#open();
    } catch (e) {
      this.#closeFiles();
      this.#lock.release();
      if (e instanceof KoruError) throw e;
      throw ioError(`cannot open the database in ${this.dir}`, e);
    }
  }

  #open(): LoadedState {
    const files = fs.readdirSync(this.dir);
    const gensOf = (re: RegExp) =>
      files
        .map((f) => re.exec(f))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => Number(m[1]))
        .sort((a, b) => b - a);
    const gens = gensOf(/^snapshot-(\d{6})\.kds$/);
    const logGens = gensOf(/^log-(\d{6})\.kdl$/);
    this.#gen = gens[0] ?? 0;
    const repaired: RepairedDamage[] = [];
    let checkpoint: Checkpoint | null;
    try {
      checkpoint = readCheckpoint(this.dir);
    } catch (e) {
      if (!(this.#repair && e instanceof CorruptionError)) throw e;
      checkpoint = null;
      const file = join(this.dir, 'SYNCED');
      repaired.push({ file, offset: 0, message: `${e.message}; ignored it (damage in the log can then read as a torn tail)`, bytes: 0, records: 0, keys: 0 });
    }
    // A log of a later generation than the newest snapshot, or a checkpoint naming one,
    // depends on a snapshot that is gone (a compaction writes and renames the snapshot
    // before it starts that log): its history before that snapshot is lost.
    const needed = Math.max(logGens[0] ?? 0, checkpoint?.gen ?? 0);
    if (needed > this.#gen) {
      const file = join(this.dir, name('snapshot', needed));
      throw new CorruptionError(
        `snapshot ${file} is missing: the database's history up to generation ${needed} was in it, and ` +
          `${name('log', needed)} holds only what was written after it; refusing to open (restore the file from a ` +
          `backup; repair cannot rebuild it)`,
        { file, offset: 0 },
      );
    }
    const logPath = join(this.dir, name('log', this.#gen));
    const hasData = gens.length > 0 || checkpoint !== null || (fs.statSync(logPath, { throwIfNoEntry: false })?.size ?? 0) > LOG_HEADER_BYTES;
    const node = readNodeId(this.dir);
    if (node.state !== 'ok' && hasData && !this.#repair) throw nodeIdCorruption(this.dir, node);
    let snapshot = null;
    if (gens.length > 0) {
      const file = join(this.dir, name('snapshot', this.#gen));
      this.#snapFd = this.#ops.openSync(file, 'r');
      this.#snapBlocks = new BlockReader(this.#ops, this.#snapFd);
      this.#snapSize = this.#ops.fstatSync(this.#snapFd).size;
      snapshot = readSnapshot(this.#ops, this.#snapFd, file);
      this.#snapValuesEnd = snapshot.valuesEnd;
    }
    // Files of older generations are leftovers of an interrupted compaction.
    for (const f of files) {
      const m = /^(snapshot|log)-(\d{6})\.(kds|kdl)(\.tmp)?$/.exec(f);
      if (m && (Number(m[2]) < this.#gen || m[4] !== undefined)) fs.rmSync(join(this.dir, f), { force: true });
    }
    // How much of this generation's log is known acknowledged and synced.
    let syncedEnd = checkpoint !== null && checkpoint.gen === this.#gen ? checkpoint.end : LOG_HEADER_BYTES;
    const exists = fs.existsSync(logPath);
    if (!exists && syncedEnd > LOG_HEADER_BYTES) {
      const message = `log ${logPath} is missing, but ${syncedEnd} bytes of it were acknowledged and synced`;
      if (!this.#repair) throw new CorruptionError(`${message}; refusing to open (repair starts an empty log)`, { file: logPath, offset: 0 });
      repaired.push({ file: logPath, offset: 0, message: `${message}; started an empty log`, bytes: syncedEnd, records: 0, keys: 0 });
      syncedEnd = LOG_HEADER_BYTES;
    }
    this.#logFd = this.#ops.openSync(logPath, exists ? 'r+' : 'w+');
    if (!exists) {
      writeFully(this.#ops, this.#logFd, logHeader(this.#gen), LOG_HEADER_BYTES, 0);
      this.#ops.fsyncSync(this.#logFd);
      fsyncDir(this.dir);
    }
    const data = fs.readFileSync(logPath);
    let entries: ReplayEntry[] = [];
    let truncated: RecoveryReport['truncated'];
    let logNodes: ReadonlySet<string> = new Set();
    if (data.length < LOG_HEADER_BYTES) {
      // A crash while the header was being written: the log held nothing — unless the
      // checkpoint says otherwise.
      if (syncedEnd > LOG_HEADER_BYTES) {
        const message = `log ${logPath} is ${data.length} bytes long, but ${syncedEnd} bytes of it were acknowledged and synced`;
        if (!this.#repair) throw new CorruptionError(`${message}; refusing to open (repair starts an empty log)`, { file: logPath, offset: data.length });
        repaired.push({ file: logPath, offset: data.length, message: `${message}; started an empty log`, bytes: syncedEnd, records: 0, keys: 0 });
      }
      writeFully(this.#ops, this.#logFd, logHeader(this.#gen), LOG_HEADER_BYTES, 0);
      this.#ops.ftruncateSync(this.#logFd, LOG_HEADER_BYTES);
      this.#logSize = LOG_HEADER_BYTES;
    } else {
      if (!data.subarray(0, 8).equals(LOG_MAGIC) || data.readUInt32LE(8) !== this.#gen) {
        throw new CorruptionError(`log ${logPath} has a bad header; refusing to open (repair cannot fix a header)`, { file: logPath, offset: 0 });
      }
      const scan = scanLog(data, syncedEnd);
      entries = scan.entries;
      logNodes = scan.nodes;
      const d = scan.damage;
      if (d !== undefined) {
        const what = describeDamage(logPath, d, syncedEnd);
        if (!this.#repair) {
          throw new CorruptionError(
            `${what}; acknowledged data is lost, refusing to open (repair keeps the ${entries.length} records before offset ` +
              `${d.validEnd}, after saving the damaged file aside)`,
            { file: logPath, offset: d.offset, validEnd: d.validEnd, bytes: d.bytes, missingBytes: d.missingBytes, records: d.records, keys: d.keys },
          );
        }
        const savedAs = `${logPath}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
        fs.copyFileSync(logPath, savedAs);
        fsyncFile(savedAs);
        repaired.push({
          file: logPath,
          offset: d.offset,
          message: `${what}; kept the ${entries.length} records before offset ${d.validEnd} and saved the damaged file as ${savedAs}`,
          bytes: d.bytes + d.missingBytes,
          records: d.records,
          keys: d.keys,
          savedAs,
        });
      } else if (scan.validEnd < data.length) {
        truncated = { file: logPath, offset: scan.validEnd, bytes: data.length - scan.validEnd };
      }
      this.#logSize = scan.validEnd;
      if (scan.validEnd < data.length) this.#ops.ftruncateSync(this.#logFd, scan.validEnd);
    }
    const nodeId = this.#resolveNodeId(node, hasData, snapshot?.nodes ?? [], logNodes, repaired);
    if (repaired.length > 0) {
      // The checkpoint must not stay ahead of the log repair cut, or the next open would
      // refuse again: sync the cut, then move the checkpoint back to it.
      this.#ops.fsyncSync(this.#logFd);
      this.#checkpoint.write(this.#gen, this.#logSize, true);
    } else if (truncated !== undefined) this.#ops.fsyncSync(this.#logFd);
    const report: RecoveryReport = {
      replayed: entries.length,
      fromSnapshot: snapshot?.count ?? 0,
      ...(truncated ? { truncated } : {}),
      ...(repaired.length > 0 ? { repaired } : {}),
    };
    return { nodeId, snapshot, log: entries, report: () => report };
  }

  /**
   * The node id: from NODE (a legacy one is rewritten with its checksum), new for a new
   * database, or — with repair, when NODE is missing or damaged — the one node every
   * stored version names.
   */
  #resolveNodeId(
    node: NodeIdFile,
    hasData: boolean,
    snapshotNodes: readonly string[],
    logNodes: ReadonlySet<string>,
    repaired: RepairedDamage[],
  ): string {
    if (node.state === 'ok') {
      if (node.legacy) writeNodeId(this.dir, node.id);
      return node.id;
    }
    if (!hasData) {
      const id = randomNodeId();
      writeNodeId(this.dir, id);
      return id;
    }
    const named = new Set([...snapshotNodes, ...logNodes]);
    if (named.size !== 1) {
      const e = nodeIdCorruption(this.dir, node);
      throw new CorruptionError(`${e.message}; repair cannot tell which id is this node's: the stored versions name ${named.size} nodes`, e.details);
    }
    const id = [...named][0]!;
    writeNodeId(this.dir, id);
    const file = join(this.dir, 'NODE');
    repaired.push({ file, offset: 0, message: `NODE was ${node.state}; rewrote it with ${id}, the one node every stored version names`, bytes: 0, records: 0, keys: 0 });
    return id;
  }

  append(entries: readonly CommitEntry[]): void {
    if (this.#broken) throw this.#broken;
    const start = this.#logSize;
    const used = encodeBatch(entries, start, this.#scratch);
    try {
      writeFully(this.#ops, this.#logFd, this.#scratch.buf, used, start);
      if (this.#sync === 'always') this.#ops.fdatasyncSync(this.#logFd);
    } catch (e) {
      // Undo the partial write so it is never replayed; if even that fails, stop writing.
      try {
        this.#ops.ftruncateSync(this.#logFd, start);
      } catch (e2) {
        this.#broken = ioError('the log could not be restored after a failed write; reopen the database', e2);
      }
      throw ioError('write failed', e);
    }
    this.#logSize = start + used;
    if (this.#sync === 'periodic') this.#scheduleSync();
    else this.#advanceCheckpoint();
  }

  #scheduleSync(): void {
    this.#dirty = true;
    if (this.#syncTimer !== undefined) return;
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = undefined;
      this.#syncNow();
    }, this.#syncInterval);
    this.#syncTimer.unref?.();
  }

  #syncNow(): void {
    if (!this.#dirty || this.#logFd < 0) return;
    this.#dirty = false;
    try {
      this.#ops.fdatasyncSync(this.#logFd);
    } catch (e) {
      this.#broken = ioError('fdatasync failed; acknowledged writes may not survive power loss', e);
      return;
    }
    this.#advanceCheckpoint();
  }

  // After every fdatasync of the log, whatever the policy: the checkpoint is what lets
  // recovery call a cut or a damaged record before it lost data rather than a torn tail
  // (see checkpoint.ts for why one in-place write with no fsync of its own is enough).
  #advanceCheckpoint(): void {
    try {
      this.#checkpoint.write(this.#gen, this.#logSize);
    } catch {
      // The commit is already durable; a checkpoint left behind is still a lower bound,
      // and a failing disk shows up on the next log write.
    }
  }

  /** The canonical JSON of the value at `loc`, its checksum verified. One pread. */
  #read(loc: number, len: number): string {
    if (loc < 0) {
      const at = -loc - 1;
      const total = len + 8;
      let b = this.#snapBlocks?.view(at, total) ?? null;
      if (b === null) {
        if (this.#readBuf.length < total) this.#readBuf = Buffer.allocUnsafe(Math.max(total, this.#readBuf.length * 2));
        b = this.#readBuf;
        if (readFully(this.#ops, this.#snapFd, b, total, at) !== total) throw this.#damaged('snapshot', at, 'bad value entry');
      }
      if (b.readUInt32LE(0) !== len) throw this.#damaged('snapshot', at, 'bad value entry');
      if (crc32(b.subarray(8, total)) !== b.readUInt32LE(4)) throw this.#damaged('snapshot', at, 'value checksum mismatch');
      return b.toString('utf8', 8, total);
    }
    if (this.#readBuf.length < len) this.#readBuf = Buffer.allocUnsafe(Math.max(len, this.#readBuf.length * 2));
    const buf = this.#readBuf;
    const got = readFully(this.#ops, this.#logFd, buf, len, loc);
    return this.#logValue(buf, 0, got, loc);
  }

  /**
   * The value of the log record at `at` in `buf` (which holds `size` valid bytes), its
   * checksum verified; `loc` is the record's offset in the log file, for errors.
   */
  #logValue(buf: Buffer, at: number, size: number, loc: number): string {
    const rec = checkRecord(buf, at, size);
    if (!rec.ok) throw this.#damaged('log', loc, rec.why);
    // The value follows the metadata line: decode only that part.
    const nl = buf.indexOf(10, rec.bodyStart);
    if (nl < 0 || nl >= rec.end) throw this.#damaged('log', loc, 'record holds no value');
    return buf.toString('utf8', nl + 1, rec.end);
  }

  #damaged(kind: 'log' | 'snapshot', offset: number, why: string): CorruptionError {
    const file = join(this.dir, name(kind, this.#gen));
    return new CorruptionError(`${kind} ${file} is damaged at offset ${offset}: ${why}`, { file, offset });
  }

  readValueText(loc: number, len: number): string {
    return this.#read(loc, len);
  }

  readValue(loc: number, len: number): JsonValue {
    return deepFreeze(JSON.parse(this.#read(loc, len)) as JsonValue);
  }

  diskBytes(): number {
    return this.#logSize + this.#snapSize;
  }

  // The log is what an open must replay, so it is kept to a quarter of the snapshot
  // (or `snapshotAfterBytes`, whichever is larger): rewriting the snapshot each time
  // the data grew by a quarter costs about five times the data in writes over its life.
  wantsSnapshot(): boolean {
    return this.#logSize > this.#snapshotAfter && this.#logSize > this.#snapSize / 4;
  }

  snapshot(source: SnapshotSource): Relocation {
    if (this.#broken) throw this.#broken;
    const next = this.#gen + 1;
    const snapPath = join(this.dir, name('snapshot', next));
    const tmp = `${snapPath}.tmp`;
    let reloc: Relocation & { valuesEnd: number };
    const fd = this.#ops.openSync(tmp, 'w+');
    try {
      // The log is small next to the snapshot: read it once rather than a value at a time.
      const log = fs.readFileSync(join(this.dir, name('log', this.#gen))).subarray(0, this.#logSize);
      const readText = (loc: number, len: number): string => (loc >= 0 ? this.#logValue(log, loc, Math.min(log.length, loc + len), loc) : this.#read(loc, len));
      const carry = this.#snapFd >= 0 ? { fd: this.#snapFd, valuesEnd: this.#snapValuesEnd } : undefined;
      reloc = writeSnapshot(this.#ops, fd, next, source, readText, carry);
      this.#ops.fsyncSync(fd);
    } catch (e) {
      this.#ops.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw ioError('snapshot failed (the database is unchanged)', e);
    }
    this.#ops.closeSync(fd);
    this.#ops.renameSync(tmp, snapPath);
    // From here on the new snapshot holds everything and is what the next open loads
    // (deleting this generation's log), so writes must not go on into the old log: if
    // the new generation cannot be started, stop accepting writes until a reopen.
    const logPath = join(this.dir, name('log', next));
    let logFd = -1;
    let snapFd = -1;
    try {
      fsyncDir(this.dir);
      // Never over an existing file: a log of a later generation than the open one is
      // another history (open refuses such a directory), not something to reuse.
      logFd = this.#ops.openSync(logPath, 'wx+');
      writeFully(this.#ops, logFd, logHeader(next), LOG_HEADER_BYTES, 0);
      this.#ops.fsyncSync(logFd);
      fsyncDir(this.dir);
      snapFd = this.#ops.openSync(snapPath, 'r');
    } catch (e) {
      try {
        if (logFd >= 0) this.#ops.closeSync(logFd);
      } catch {
        // Already failing; the descriptor is released with the process at worst.
      }
      this.#broken = ioError('a snapshot was written but the next log could not be started; reopen the database', e);
      throw this.#broken;
    }
    const oldGen = this.#gen;
    this.#closeFiles();
    this.#gen = next;
    this.#logFd = logFd;
    this.#logSize = LOG_HEADER_BYTES;
    this.#snapFd = snapFd;
    this.#snapBlocks = new BlockReader(this.#ops, snapFd);
    this.#snapSize = this.#ops.fstatSync(this.#snapFd).size;
    this.#snapValuesEnd = reloc.valuesEnd;
    this.#advanceCheckpoint();
    for (const f of [name('log', oldGen), name('snapshot', oldGen)]) fs.rmSync(join(this.dir, f), { force: true });
    return reloc;
  }

  #closeFiles(): void {
    if (this.#logFd >= 0) this.#ops.closeSync(this.#logFd);
    if (this.#snapFd >= 0) this.#ops.closeSync(this.#snapFd);
    this.#logFd = -1;
    this.#snapFd = -1;
    this.#snapBlocks = undefined;
    this.#checkpoint.close();
  }

  close(): void {
    if (this.#syncTimer !== undefined) clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
    try {
      if (this.#logFd >= 0) {
        this.#ops.fdatasyncSync(this.#logFd);
        this.#advanceCheckpoint();
      }
    } finally {
      this.#closeFiles();
      this.#lock?.release();
    }
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
