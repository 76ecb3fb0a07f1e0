/**
 * What opening a tree does before it serves anything: read the manifest, delete what a
 * crash left behind (segments no manifest names, logs already flushed, orphaned
 * synced-point sidecars), check that every named segment exists, and replay the logs
 * not yet flushed into frozen memtables. Reads no segment.
 */
import { CorruptionError } from '../errors.js';
import type { StorageDirectory } from './io.js';
import { readManifest, type ManifestState } from './manifest.js';
import { Memtable } from './memtable.js';
import { MANIFEST_FILE, segmentFileName, walFileName } from './types.js';
import { removeWal, replayWal, type WalReplay } from './wal.js';

/** What opening found in the logs. */
export interface LsmRecovery {
  readonly replayedBatches: number;
  readonly logs: readonly WalReplay[];
}

/** A frozen memtable waiting for its flush, and the log that holds the same writes. */
export interface Frozen {
  readonly mem: Memtable;
  readonly wal: number;
  /** The log file's size (what it adds to the tree's bytes on disk). */
  readonly bytes: number;
}

/** The state a tree opens with. */
export interface RecoveredTree {
  readonly manifest: ManifestState;
  /** Replayed logs, newest first. */
  readonly frozen: Frozen[];
  /** The next unused file number. */
  readonly next: number;
  readonly report: LsmRecovery;
}

/**
 * Without a manifest, a segment can only be the output of a first flush that never
 * installed (its log is still there, and it is numbered after that log). A segment
 * numbered before every log — or any segment when there is no log — was installed by a
 * manifest that is now gone: opening empty would silently drop it.
 * @throws CorruptionError naming the missing manifest
 */
function refuseLostManifest(dir: StorageDirectory): void {
  const numbers = (suffix: string): number[] =>
    dir
      .list()
      .map((n) => new RegExp(`^(\\d{8})\\.${suffix}$`).exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]));
  const segments = numbers('kseg');
  if (segments.length === 0) return;
  const firstLog = Math.min(...numbers('kwal'), ...numbers('kwal\\.synced'));
  const installed = segments.filter((n) => n < firstLog);
  if (installed.length === 0) return;
  const file = `${dir.location}/${MANIFEST_FILE}`;
  throw new CorruptionError(
    `${file} is missing, but segment files it must have named are there (${installed.map((n) => segmentFileName(n)).join(', ')}); ` +
      'refusing to open as an empty database (restore the manifest from a backup)',
    { file, offset: 0 },
  );
}

/**
 * Recovers the tree in `dir`. @throws CorruptionError naming the damaged or missing file
 * (with `repair`, damaged logs are cut back and reported instead); IoError
 */
export function recoverTree(dir: StorageDirectory, repair: boolean): RecoveredTree {
  const manifest: ManifestState = readManifest(dir) ?? { formatVersion: 1, nextFileNumber: 1, logNumber: 0, segments: [], properties: {} };
  const live = new Set(manifest.segments.map((s) => s.fileNumber));
  if (manifest.segments.length === 0 && !dir.exists(MANIFEST_FILE)) refuseLostManifest(dir);
  let next = manifest.nextFileNumber;
  const logs: number[] = [];
  const names = dir.list();
  for (const name of names) {
    const m = /^(\d{8})\.(kseg|kwal)$/.exec(name);
    if (m === null) continue;
    const n = Number(m[1]);
    next = Math.max(next, n + 1);
    if (m[2] === 'kseg') {
      if (!live.has(n)) dir.remove(name); // written by a merge or flush that never installed
    } else if (n < manifest.logNumber) removeWal(dir, n); // already in segments
    else logs.push(n);
  }
  // A sidecar whose log is gone: left over if its log was flushed (removals take the
  // sidecar first, so no crash leaves this for a log still needed); otherwise the log was
  // lost, and its replay says whether synced batches went with it.
  for (const name of names) {
    const m = /^(\d{8})\.kwal\.synced$/.exec(name);
    if (m === null || logs.includes(Number(m[1]))) continue;
    const n = Number(m[1]);
    if (n < manifest.logNumber) dir.remove(name);
    else logs.push(n);
  }
  // One listing, not a stat per segment: a database of many segments opens in less time.
  const present = new Set(names);
  for (const s of manifest.segments) {
    if (!present.has(segmentFileName(s.fileNumber))) {
      throw new CorruptionError(`${dir.location}/${segmentFileName(s.fileNumber)} is missing, but the manifest names it (${s.count} entries)`, { file: segmentFileName(s.fileNumber), offset: 0 });
    }
  }
  logs.sort((a, b) => a - b);
  // Every replayed log becomes a frozen memtable, flushed again from its own file — the
  // newest too: the tree starts a new, empty log, so no file is ever appended to after
  // a crash cut its tail.
  const frozen: Frozen[] = [];
  const reports: WalReplay[] = [];
  let batches = 0;
  for (const n of logs) {
    const replay = replayWal(dir, n, { repair });
    reports.push(replay);
    if (replay.batches.length === 0) {
      // Nothing in it (a clean close leaves the last log empty): nothing to flush.
      removeWal(dir, n);
      continue;
    }
    const mem = new Memtable();
    for (const batch of replay.batches) {
      batches++;
      for (const e of batch) mem.put(e.key, e.kind, e.value);
    }
    const f = dir.open(walFileName(n), 'read');
    let bytes: number;
    try {
      bytes = f.size();
    } finally {
      f.close();
    }
    frozen.unshift({ mem, wal: n, bytes });
  }
  return { manifest, frozen, next, report: { replayedBatches: batches, logs: reports } };
}
