/**
 * Reads a v1 database directory (the format the log + snapshot adapter wrote: NODE,
 * SYNCED, snapshot-NNNNNN.kds, log-NNNNNN.kdl) so that it can be converted: every
 * version in commit order (seq 1..n, seq = row + 1), and each version's value text read
 * from the files one at a time.
 *
 * Opening checks what the v1 adapter's open checked, the same way (log-scan.ts,
 * checkpoint.ts, snapshot-format.ts): the snapshot's metadata is checked and loaded, the
 * log scanned; a torn tail (a crash mid-write, past the SYNCED checkpoint, nothing valid
 * after) is left unread and reported; lost acknowledged data, a missing snapshot or a
 * missing or damaged NODE is CORRUPTION naming file and offset, unless `repair` is set,
 * which keeps the log's whole batches before the damage (saving the damaged log aside as
 * `<log>.damaged-<time>` first, since the conversion deletes the v1 files afterwards),
 * ignores a damaged checkpoint and re-derives a lost node id, as the v1 adapter did.
 *
 * Unlike the v1 adapter, the reader changes nothing else on disk: it neither cuts the
 * torn tail nor removes an interrupted compaction's leftovers (the conversion deletes
 * every v1 file once it has committed), so an error leaves the directory as it was.
 * Values are checked against their CRC when read; a damaged one is CORRUPTION.
 *
 * Memory: the snapshot's columns (~95 bytes a version) and the log's metadata are held;
 * the log is read whole while it is scanned (as the v1 adapter did), then only by value.
 * The caller holds the directory's LOCK.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { InvalidArgumentError, KoruError, parseHlc, toHex } from '@koru/engine';
import { CorruptionError, IoError } from '../../errors.js';
import { fsyncDir, nodeFileOps, readFully } from '../fs-ops.js';
import { readNodeId, writeNodeId, type NodeIdFile } from '../node-id.js';
import { BlockReader } from './block-reader.js';
import { readCheckpoint, type Checkpoint } from './checkpoint.js';
import { checkRecord, LOG_HEADER_BYTES, LOG_MAGIC } from './log-format.js';
import { describeDamage, scanLog } from './log-scan.js';
import { readSnapshot } from './snapshot-format.js';
import { FLAG_DELETED, type LoadedSnapshot, type ReplayEntry, type V1RecoveryReport, type V1RepairedDamage } from './v1-types.js';

/** Options of {@link V1Reader.open}. */
export interface V1ReaderOptions {
  /**
   * Read a damaged database anyway, as the v1 adapter's `repair` opened one: keep the
   * log's whole batches before the damage (the damaged log saved aside first), ignore a
   * damaged SYNCED, rewrite a lost NODE when every version names one node; what was
   * dropped is in {@link V1Reader.report}. Without it, damage is CORRUPTION.
   */
  readonly repair?: boolean;
}

/** One version of a v1 database, in commit order. */
export interface V1Version {
  /** Its change number: the row + 1. */
  readonly seq: number;
  readonly namespace: string;
  readonly key: string;
  readonly versionId: string;
  readonly previousVersion: string | null;
  /** null for a tombstone. */
  readonly valueId: string | null;
  /** The HLC stamp's two parts. */
  readonly wall: number;
  readonly logical: number;
  readonly node: string;
  readonly deleted: boolean;
  /** Where its value is (for {@link V1Reader.valueText}): -(offset + 1) in the snapshot, ≥ 0 in the log, -1 for a tombstone. */
  readonly loc: number;
  readonly len: number;
}

const V1_FILE = /^(?:(?:snapshot|log)-\d{6}\.(?:kds|kdl)(?:\.tmp)?|SYNCED(?:\.tmp)?)$/;

/**
 * Which of a directory's file names are the v1 format's: snapshots, logs (with the
 * temporary files of an interrupted compaction) and the SYNCED checkpoint. NODE and LOCK
 * are shared with v2; a `.damaged-<time>` copy saved by repair is the user's, not ours.
 */
export function v1FileNames(names: readonly string[]): string[] {
  return names.filter((n) => V1_FILE.test(n));
}

const fileName = (kind: 'snapshot' | 'log', gen: number) => `${kind}-${String(gen).padStart(6, '0')}.${kind === 'snapshot' ? 'kds' : 'kdl'}`;

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

/** Copies `path` to `<path>.damaged-<time>` and syncs the copy: what repair drops stays inspectable. */
export function saveDamagedCopy(path: string): string {
  const savedAs = `${path}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  fs.copyFileSync(path, savedAs);
  const fd = fs.openSync(savedAs, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fsyncDir(join(path, '..'));
  return savedAs;
}

/** The snapshot part of a v1 database: its metadata, and each row's key. */
interface SnapshotPart {
  readonly snap: LoadedSnapshot;
  readonly file: string;
  /** Row → index into `snap.keys`. */
  readonly rowKey: Uint32Array;
}

/** What opening found, handed to the reader. */
interface Opened {
  readonly nodeId: string | null;
  readonly snapshot: SnapshotPart | undefined;
  readonly snapFd: number;
  readonly log: readonly ReplayEntry[];
  readonly logPath: string;
  readonly logFd: number;
  readonly report: V1RecoveryReport;
}

/** A v1 database directory opened for reading. */
export class V1Reader {
  /** The directory. */
  readonly dir: string;
  /** The node id (NODE, or re-derived by repair); null when NODE is missing and nothing is stored. */
  readonly nodeId: string | null;
  /** Versions stored: seq runs 1..count. */
  readonly count: number;
  /** What opening found. */
  readonly report: V1RecoveryReport;
  readonly #snapshot: SnapshotPart | undefined;
  readonly #log: readonly ReplayEntry[];
  readonly #logPath: string;
  #snapFd = -1;
  #snapBlocks: BlockReader | undefined;
  #logFd = -1;
  #readBuf = Buffer.allocUnsafe(64 * 1024);

  private constructor(dir: string, o: Opened) {
    this.dir = dir;
    this.nodeId = o.nodeId;
    this.#snapshot = o.snapshot;
    this.#snapFd = o.snapFd;
    if (o.snapFd >= 0) this.#snapBlocks = new BlockReader(nodeFileOps, o.snapFd);
    this.#log = o.log;
    this.#logPath = o.logPath;
    this.#logFd = o.logFd;
    this.report = o.report;
    this.count = (o.snapshot?.snap.count ?? 0) + o.log.length;
  }

  /**
   * Opens the v1 database in `dir` (whose LOCK the caller holds) and checks it as the v1
   * adapter's open did.
   * @throws CorruptionError naming file and offset for damage (unless `repair` can drop it); IoError
   */
  static open(dir: string, options: V1ReaderOptions = {}): V1Reader {
    const opened: number[] = [];
    try {
      return new V1Reader(dir, openReader(dir, options.repair === true, opened));
    } catch (e) {
      for (const fd of opened) fs.closeSync(fd);
      if (e instanceof KoruError) throw e;
      throw new IoError(`cannot read the v1 database in ${dir}: ${(e as Error)?.message ?? String(e)}`, e);
    }
  }

  /**
   * Version `seq` (1..count).
   * @throws InvalidArgumentError outside it; CorruptionError for metadata no v1 writer wrote
   */
  version(seq: number): V1Version {
    if (!Number.isSafeInteger(seq) || seq < 1 || seq > this.count) throw new InvalidArgumentError(`seq ${seq} is outside 1..${this.count}`);
    const part = this.#snapshot;
    const inSnapshot = part?.snap.count ?? 0;
    if (seq > inSnapshot) {
      const e = this.#log[seq - inSnapshot - 1]!;
      let stamp;
      try {
        stamp = parseHlc(e.hlc);
      } catch {
        throw new CorruptionError(`log ${this.#logPath}: change ${seq} has a malformed clock stamp ${JSON.stringify(e.hlc)}`, { file: this.#logPath, offset: e.loc >= 0 ? e.loc : 0 });
      }
      return {
        seq,
        namespace: e.namespace,
        key: e.key,
        versionId: e.versionId,
        previousVersion: e.previousVersion,
        valueId: e.deleted ? null : e.valueId,
        wall: stamp.wall,
        logical: stamp.logical,
        node: e.node,
        deleted: e.deleted,
        loc: e.deleted ? -1 : e.loc,
        len: e.deleted ? 0 : e.len,
      };
    }
    const { snap, rowKey } = part!;
    const r = seq - 1;
    const c = snap.cols;
    const k = snap.keys[rowKey[r]!]!;
    const deleted = (c.flags[r]! & FLAG_DELETED) !== 0;
    const prev = c.prev[r]!;
    const node = snap.nodes[c.node[r]!];
    // The columns passed their checksums: only a faulty writer could leave these out of range.
    if (node === undefined || prev >= r) {
      throw new CorruptionError(`snapshot ${part!.file}: row ${r} names ${node === undefined ? `node ${c.node[r]}, which it does not list` : `row ${prev} as its previous version`}`, { file: part!.file, offset: 0 });
    }
    return {
      seq,
      namespace: k.namespace,
      key: k.key,
      versionId: toHex(c.ids.subarray(r * 32, r * 32 + 32)),
      previousVersion: prev < 0 ? null : toHex(c.ids.subarray(prev * 32, prev * 32 + 32)),
      valueId: deleted ? null : toHex(c.vids.subarray(r * 32, r * 32 + 32)),
      wall: c.wall[r]!,
      logical: c.logical[r]!,
      node,
      deleted,
      loc: deleted ? -1 : c.loc[r]!,
      len: deleted ? 0 : c.len[r]!,
    };
  }

  /** Every version from `from` on, in commit order. */
  *versions(from = 1): Generator<V1Version> {
    for (let seq = Math.max(1, from); seq <= this.count; seq++) yield this.version(seq);
  }

  /**
   * The canonical JSON text of `v`'s value (null for a tombstone), its checksum verified.
   * One pread (snapshot values through a small block cache).
   * @throws CorruptionError naming file and offset when the bytes do not check out
   */
  valueText(v: V1Version): string | null {
    if (v.deleted) return null;
    const loc = v.loc;
    const len = v.len;
    if (loc < 0) {
      if (this.#snapFd < 0) throw this.#damaged('log', 0, `change ${v.seq} names a snapshot value, but there is no snapshot`);
      const at = -loc - 1;
      const total = len + 8;
      let b = this.#snapBlocks!.view(at, total);
      if (b === null) {
        b = this.#buffer(total);
        if (readFully(nodeFileOps, this.#snapFd, b, total, at) !== total) throw this.#damaged('snapshot', at, 'bad value entry');
      }
      if (b.readUInt32LE(0) !== len) throw this.#damaged('snapshot', at, 'bad value entry');
      if (crc32(b.subarray(8, total)) !== b.readUInt32LE(4)) throw this.#damaged('snapshot', at, 'value checksum mismatch');
      return b.toString('utf8', 8, total);
    }
    const buf = this.#buffer(len);
    const got = readFully(nodeFileOps, this.#logFd, buf, len, loc);
    const rec = checkRecord(buf, 0, got);
    if (!rec.ok) throw this.#damaged('log', loc, rec.why);
    // The value follows the metadata line.
    const nl = buf.indexOf(10, rec.bodyStart);
    if (nl < 0 || nl >= rec.end) throw this.#damaged('log', loc, 'record holds no value');
    return buf.toString('utf8', nl + 1, rec.end);
  }

  /** The path of the file a value location is in. */
  fileOf(loc: number): string {
    return loc < 0 ? this.#snapshot!.file : this.#logPath;
  }

  #buffer(n: number): Buffer {
    if (this.#readBuf.length < n) this.#readBuf = Buffer.allocUnsafe(Math.max(n, this.#readBuf.length * 2));
    return this.#readBuf;
  }

  #damaged(kind: 'log' | 'snapshot', offset: number, why: string): CorruptionError {
    const file = kind === 'log' ? this.#logPath : this.#snapshot!.file;
    return new CorruptionError(`${kind} ${file} is damaged at offset ${offset}: ${why}`, { file, offset });
  }

  /** Releases the files. Idempotent. */
  close(): void {
    if (this.#snapFd >= 0) fs.closeSync(this.#snapFd);
    if (this.#logFd >= 0) fs.closeSync(this.#logFd);
    this.#snapFd = -1;
    this.#logFd = -1;
    this.#snapBlocks = undefined;
  }
}

/** Opens the reader; every descriptor it opens is pushed on `opened` (closed by the caller on failure). */
function openReader(dir: string, repair: boolean, opened: number[]): Opened {
  const files = fs.readdirSync(dir);
  const gensOf = (re: RegExp) =>
    files
      .map((f) => re.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => b - a);
  const gens = gensOf(/^snapshot-(\d{6})\.kds$/);
  const logGens = gensOf(/^log-(\d{6})\.kdl$/);
  const gen = gens[0] ?? 0;
  const repaired: V1RepairedDamage[] = [];
  let checkpoint: Checkpoint | null;
  try {
    checkpoint = readCheckpoint(dir);
  } catch (e) {
    if (!(repair && e instanceof CorruptionError)) throw e;
    checkpoint = null;
    repaired.push({ file: join(dir, 'SYNCED'), offset: 0, message: `${e.message}; ignored it (damage in the log can then read as a torn tail)`, bytes: 0, records: 0, keys: 0 });
  }
  // A log of a later generation than the newest snapshot, or a checkpoint naming one,
  // depends on a snapshot that is gone (a compaction wrote and renamed the snapshot
  // before it started that log): its history before that snapshot is lost.
  const needed = Math.max(logGens[0] ?? 0, checkpoint?.gen ?? 0);
  if (needed > gen) {
    const file = join(dir, fileName('snapshot', needed));
    throw new CorruptionError(
      `snapshot ${file} is missing: the database's history up to generation ${needed} was in it, and ` +
        `${fileName('log', needed)} holds only what was written after it; refusing to open (restore the file from a ` +
        `backup; repair cannot rebuild it)`,
      { file, offset: 0 },
    );
  }
  const logPath = join(dir, fileName('log', gen));
  const logSize = fs.statSync(logPath, { throwIfNoEntry: false })?.size;
  const hasData = gens.length > 0 || checkpoint !== null || (logSize ?? 0) > LOG_HEADER_BYTES;
  const node = readNodeId(dir);
  if (node.state !== 'ok' && hasData && !repair) throw nodeIdCorruption(dir, node);
  let snapshot: SnapshotPart | undefined;
  let snapFd = -1;
  if (gens.length > 0) {
    const file = join(dir, fileName('snapshot', gen));
    snapFd = fs.openSync(file, 'r');
    opened.push(snapFd);
    const snap = readSnapshot(nodeFileOps, snapFd, file);
    snapshot = { snap, file, rowKey: rowKeys(snap, file) };
  }
  const base = snapshot?.snap.count ?? 0;
  // How much of this generation's log is known acknowledged and synced.
  let syncedEnd = checkpoint !== null && checkpoint.gen === gen ? checkpoint.end : LOG_HEADER_BYTES;
  let entries: ReplayEntry[] = [];
  let truncated: V1RecoveryReport['truncated'];
  let logNodes: ReadonlySet<string> = new Set();
  let logFd = -1;
  if (logSize === undefined) {
    if (syncedEnd > LOG_HEADER_BYTES) {
      const message = `log ${logPath} is missing, but ${syncedEnd} bytes of it were acknowledged and synced`;
      if (!repair) throw new CorruptionError(`${message}; refusing to open (repair starts an empty log)`, { file: logPath, offset: 0 });
      repaired.push({ file: logPath, offset: 0, message: `${message}; read no log`, bytes: syncedEnd, records: 0, keys: 0 });
      syncedEnd = LOG_HEADER_BYTES;
    }
  } else {
    logFd = fs.openSync(logPath, 'r');
    opened.push(logFd);
    // Read whole for the scan, as the v1 adapter did; values are read again one by one.
    const data = fs.readFileSync(logPath);
    if (data.length < LOG_HEADER_BYTES) {
      // A crash while the header was being written: the log held nothing, unless the
      // checkpoint says otherwise.
      if (syncedEnd > LOG_HEADER_BYTES) {
        const message = `log ${logPath} is ${data.length} bytes long, but ${syncedEnd} bytes of it were acknowledged and synced`;
        if (!repair) throw new CorruptionError(`${message}; refusing to open (repair starts an empty log)`, { file: logPath, offset: data.length });
        repaired.push({ file: logPath, offset: data.length, message: `${message}; read no log`, bytes: syncedEnd, records: 0, keys: 0 });
      }
    } else {
      if (!data.subarray(0, 8).equals(LOG_MAGIC) || data.readUInt32LE(8) !== gen) {
        throw new CorruptionError(`log ${logPath} has a bad header; refusing to open (repair cannot fix a header)`, { file: logPath, offset: 0 });
      }
      const scan = scanLog(data, syncedEnd);
      entries = scan.entries;
      logNodes = scan.nodes;
      const d = scan.damage;
      if (d !== undefined) {
        const what = describeDamage(logPath, d, syncedEnd);
        if (!repair) {
          throw new CorruptionError(
            `${what}; acknowledged data is lost, refusing to open (repair keeps the ${entries.length} records before offset ` + `${d.validEnd}, after saving the damaged file aside)`,
            { file: logPath, offset: d.offset, validEnd: d.validEnd, bytes: d.bytes, missingBytes: d.missingBytes, records: d.records, keys: d.keys },
          );
        }
        const savedAs = saveDamagedCopy(logPath);
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
    }
  }
  // Each committed change is one row: the change feed relies on seq = row + 1.
  if (snapshot !== undefined && snapshot.snap.seq !== snapshot.snap.count) {
    throw new CorruptionError(`snapshot ${snapshot.file} holds ${snapshot.snap.count} versions but its change counter is ${snapshot.snap.seq}`, { file: snapshot.file, offset: 0 });
  }
  for (let i = 0; i < entries.length; i++) {
    if (entries[i]!.seq !== base + i + 1) {
      throw new CorruptionError(`log ${logPath}: its record ${i + 1} is change ${entries[i]!.seq}, not ${base + i + 1} (the changes before it are numbered 1..${base + i})`, {
        file: logPath,
        offset: 0,
      });
    }
  }
  const nodeId = resolveNodeId(dir, node, hasData, snapshot?.snap.nodes ?? [], logNodes, repaired);
  const report: V1RecoveryReport = {
    replayed: entries.length,
    fromSnapshot: base,
    ...(truncated ? { truncated } : {}),
    ...(repaired.length > 0 ? { repaired } : {}),
  };
  return { nodeId, snapshot, snapFd, log: entries, logPath, logFd, report };
}

/** Row → index of its key in the snapshot's key list; every row must belong to exactly one key. */
function rowKeys(snap: LoadedSnapshot, file: string): Uint32Array {
  const rowKey = new Uint32Array(snap.count);
  const seen = new Uint8Array(snap.count);
  let n = 0;
  for (let k = 0; k < snap.keys.length; k++) {
    for (const r of snap.keys[k]!.rows) {
      if (r >= snap.count || seen[r] === 1) throw new CorruptionError(`snapshot ${file}: its key index names row ${r} ${r >= snap.count ? 'past its last' : 'twice'}`, { file, offset: 0 });
      seen[r] = 1;
      rowKey[r] = k;
      n++;
    }
  }
  if (n !== snap.count) throw new CorruptionError(`snapshot ${file}: its key index names ${n} of its ${snap.count} rows`, { file, offset: 0 });
  return rowKey;
}

/**
 * The node id: from NODE (a legacy one is left as it is: the v2 store reads it too),
 * none for a database that stores nothing, or — with repair, when NODE is missing or
 * damaged — the one node every stored version names, written to NODE as the v1 adapter did.
 */
function resolveNodeId(
  dir: string,
  node: NodeIdFile,
  hasData: boolean,
  snapshotNodes: readonly string[],
  logNodes: ReadonlySet<string>,
  repaired: V1RepairedDamage[],
): string | null {
  if (node.state === 'ok') return node.id;
  if (!hasData) return null;
  const named = new Set([...snapshotNodes, ...logNodes]);
  if (named.size !== 1) {
    const e = nodeIdCorruption(dir, node);
    throw new CorruptionError(`${e.message}; repair cannot tell which id is this node's: the stored versions name ${named.size} nodes`, e.details);
  }
  const id = [...named][0]!;
  writeNodeId(dir, id);
  const file = join(dir, 'NODE');
  repaired.push({ file, offset: 0, message: `NODE was ${node.state}; rewrote it with ${id}, the one node every stored version names`, bytes: 0, records: 0, keys: 0 });
  return id;
}
