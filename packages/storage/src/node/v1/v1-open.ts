/**
 * Opening a v1 database directory for {@link V1Reader}: the checks the v1 adapter's open
 * made, in the same order and with the same errors (see v1-reader.ts), reading only.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { CorruptionError } from '../../errors.js';
import { fsyncDir, nodeFileOps } from '../fs-ops.js';
import { readNodeId, writeNodeId, type NodeIdFile } from '../node-id.js';
import { readCheckpoint, type Checkpoint } from './checkpoint.js';
import { LOG_HEADER_BYTES, LOG_MAGIC } from './log-format.js';
import { describeDamage, scanLog } from './log-scan.js';
import { readSnapshot } from './snapshot-format.js';
import type { LoadedSnapshot, ReplayEntry, V1RecoveryReport, V1RepairedDamage } from './v1-types.js';

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

/** The snapshot part of a v1 database: its metadata, and each row's key. @internal */
export interface SnapshotPart {
  readonly snap: LoadedSnapshot;
  readonly file: string;
  /** Row → index into `snap.keys`. */
  readonly rowKey: Uint32Array;
}

/** What opening found, handed to the reader. @internal */
export interface Opened {
  readonly nodeId: string | null;
  readonly snapshot: SnapshotPart | undefined;
  readonly snapFd: number;
  readonly log: readonly ReplayEntry[];
  readonly logPath: string;
  readonly logFd: number;
  readonly report: V1RecoveryReport;
}

/**
 * Opens a v1 database for the reader; every descriptor it opens is pushed on `opened`
 * (closed by the caller on failure). @internal
 */
export function openReader(dir: string, repair: boolean, opened: number[]): Opened {
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
