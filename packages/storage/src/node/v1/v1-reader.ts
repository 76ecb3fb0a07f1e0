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
import { crc32 } from 'node:zlib';
import { InvalidArgumentError, KoruError, parseHlc, toHex } from '@koru/engine';
import { CorruptionError, IoError } from '../../errors.js';
import { nodeFileOps, readFully } from '../fs-ops.js';
import { BlockReader } from './block-reader.js';
import { checkRecord } from './log-format.js';
import { openReader, type Opened, type SnapshotPart } from './v1-open.js';
import { FLAG_DELETED, type ReplayEntry, type V1RecoveryReport } from './v1-types.js';

export { saveDamagedCopy } from './v1-open.js';
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

