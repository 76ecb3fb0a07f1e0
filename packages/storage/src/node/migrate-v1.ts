/**
 * Converts a v1 database directory (snapshot + log, see v1/v1-reader.ts) to the v2 format
 * (a VersionStore over an LsmTree in the same directory), once, so that a kill -9 at any
 * moment leaves either the v1 database intact or the converted v2 one.
 *
 * ## Protocol
 * Called by the v2 adapter with the directory's LOCK held, before it opens the tree.
 * 1. `MANIFEST` exists: the directory is v2. If the manifest's properties carry the
 *    migration mark (`migratedFrom: 'v1'`) and v1 files remain, the conversion committed
 *    and a crash stopped its cleanup: the v1 files are deleted. (Without the mark, v1
 *    files beside a v2 database are not ours to delete and are left.) A leftover
 *    `migrating.tmp/` is removed. Nothing to convert: undefined.
 * 2. Else, no v1 file (snapshot-*.kds, log-*.kdl, SYNCED, their .tmp): undefined (a
 *    `migrating.tmp/` is removed: no manifest names what it holds).
 * 3. Else the v1 database is read and checked first (v1/v1-reader.ts; damage without
 *    `repair` is CORRUPTION naming file and offset, with nothing changed on disk). Then
 *    a leftover `migrating.tmp/` and stray v2 files in the directory (segments moved in
 *    by a conversion that crashed before its commit, logs, a manifest's temporary file)
 *    are removed, and the whole v2 tree is built in `migrating.tmp/`: every v1 version
 *    committed in seq order through {@link VersionStore.commit} in batches (so each
 *    keeps its seq; `store.seq` must equal the count at the end), everything flushed and
 *    merged into segments, the manifest's properties set to `{ migratedFrom: 'v1',
 *    migratedAt: <ISO time>, versions: n }`, the tree closed (its one log left is empty
 *    and stays behind). A failure removes `migrating.tmp/` and leaves the v1 files.
 * 4. Each segment file is renamed into the directory, the directory fsynced, and then
 *    `MANIFEST` renamed in LAST and the directory fsynced: that rename is the commit
 *    point. Before it, the next call finds v1 files and no MANIFEST and starts again from
 *    scratch (step 3 removes what the crashed attempt moved in); after it, step 1.
 * 5. The v1 files are deleted, the directory fsynced, `migrating.tmp/` removed.
 * NODE and LOCK are shared by both formats and left as they are (but repair rewrites a
 * lost NODE as the v1 adapter did). Copies a repair saved (`*.damaged-<time>`) stay.
 *
 * Memory: the v1 reader's metadata (about 100 bytes a version) and the tree's bounded
 * memtables and caches; values are read one at a time, a batch of them at most held.
 * Asynchronous because flushing and closing the tree are.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, KoruError } from '@koru/engine';
import { CorruptionError, IoError } from '../errors.js';
import { LsmTree } from '../lsm/lsm-tree.js';
import { readManifest } from '../lsm/manifest.js';
import { InlineMergeRunner } from '../lsm/merge-runner.js';
import { MANIFEST_FILE, segmentFileName } from '../lsm/types.js';
import { replayWal } from '../lsm/wal.js';
import { VersionStore, VERSION_TREE_WRITER, type NewVersion } from '../version-store.js';
import { fsyncDir } from './fs-ops.js';
import { NodeDirectory, TEMP_SUFFIX } from './node-directory.js';
import { saveDamagedCopy, v1FileNames, V1Reader, type V1Version } from './v1/v1-reader.js';
import type { V1RecoveryReport, V1RepairedDamage } from './v1/v1-types.js';

/** The directory, inside the database's, in which the v2 tree is built before it is moved in. */
export const MIGRATION_DIR = 'migrating.tmp';

/** The manifest property that marks a tree converted from v1 (its value is `'v1'`). */
export const MIGRATED_FROM = 'migratedFrom';

/** Options of {@link migrateV1}. */
export interface MigrateV1Options {
  /** Convert a damaged v1 database anyway, dropping what is damaged (see {@link MigrationReport.recovery}). */
  readonly repair?: boolean;
  /** Told after each batch: versions read so far (converted or dropped) and the total. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** What a conversion did. */
export interface MigrationReport {
  readonly from: 'v1';
  /** Versions converted: the v2 store's seq (the v1 count less what repair dropped). */
  readonly versions: number;
  /** Distinct keys (namespace, key) with at least one version, tombstones included. */
  readonly keys: number;
  /** Values stored, as `stats().distinctValues` counts them (small ones once per version holding them, large ones once). */
  readonly values: number;
  /** Milliseconds the conversion took, reading and cleanup included. */
  readonly ms: number;
  /**
   * What reading the v1 database found: `truncated` (a torn log tail, left unconverted
   * as the v1 adapter cut it) and, under `repair`, `repaired`: the damage dropped (a
   * log's batches after damage, a damaged SYNCED or NODE, and versions whose value failed
   * its checksum — those are dropped and the later versions' seq move down by one each).
   */
  readonly recovery: V1RecoveryReport;
}

const MIB = 1024 * 1024;

/** Versions committed per VersionStore.commit (one tree write each). */
const BATCH_VERSIONS = 1024;
/** ... or fewer, once their value text reaches this many UTF-16 units. */
const BATCH_TEXT = 4 * 1024 * 1024;

/** Names a v2 tree writes in its directory (what a crashed conversion may have moved in). */
const V2_FILE = /^(?:\d{8}\.(?:kseg|kwal|kwal\.synced)|MANIFEST\.tmp)$/;

function ioError(what: string, e: unknown): Error {
  if (e instanceof KoruError) return e;
  return new IoError(`${what}: ${(e as Error)?.message ?? String(e)}`, e);
}

/** Removes `names` from `dir` (missing ones are fine) and fsyncs it. */
function removeAll(dir: string, names: readonly string[]): void {
  if (names.length === 0) return;
  for (const n of names) fs.rmSync(join(dir, n), { force: true });
  fsyncDir(dir);
}

/**
 * Converts the v1 database in `dir` (whose LOCK the caller holds) to the v2 format, or
 * finishes the cleanup of a conversion that committed; see the module doc for the
 * protocol. Returns undefined when there is nothing v1 to convert (a v2 or new directory).
 * @throws CorruptionError naming file and offset when the v1 database is damaged (nothing
 *   changed on disk; `repair` converts what survives instead); IoError / StorageFullError
 *   (the v1 database left as it was)
 */
export async function migrateV1(dir: string, options: MigrateV1Options = {}): Promise<MigrationReport | undefined> {
  const started = performance.now();
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    throw ioError(`cannot list ${dir}`, e);
  }
  const tmp = join(dir, MIGRATION_DIR);
  const v1Files = v1FileNames(names);
  if (names.includes(MANIFEST_FILE) || v1Files.length === 0) {
    // Nothing to convert. What a conversion may have left: v1 files after its commit,
    // and its temp dir (which no manifest ever names).
    try {
      if (v1Files.length > 0 && readManifest(new NodeDirectory(dir))?.properties[MIGRATED_FROM] === 'v1') removeAll(dir, v1Files);
      if (names.includes(MIGRATION_DIR)) {
        fs.rmSync(tmp, { recursive: true, force: true });
        fsyncDir(dir);
      }
    } catch (e) {
      throw ioError(`cannot finish the cleanup of the conversion of ${dir} to the v2 format`, e);
    }
    return undefined;
  }
  // Read and check everything that can be checked before anything changes on disk.
  const reader = V1Reader.open(dir, { repair: options.repair === true });
  try {
    try {
      fs.rmSync(tmp, { recursive: true, force: true });
      removeAll(
        dir,
        names.filter((n) => V2_FILE.test(n)),
      );
      fs.mkdirSync(tmp);
    } catch (e) {
      throw ioError(`cannot prepare ${tmp} for the conversion to the v2 format`, e);
    }
    let built: Built;
    try {
      built = await build(reader, tmp, options);
      commit(dir, tmp);
    } catch (e) {
      // Nothing is in place yet (the commit's rename did not happen): the v1 database is intact.
      try {
        fs.rmSync(tmp, { recursive: true, force: true });
        removeAll(
          dir,
          fs.readdirSync(dir).filter((n) => V2_FILE.test(n)),
        );
      } catch {
        // The next call removes what is left; the first failure is the one to report.
      }
      throw ioError(`the conversion of ${dir} to the v2 format failed (the v1 database is left as it was)`, e);
    }
    reader.close();
    try {
      removeAll(dir, v1FileNames(fs.readdirSync(dir)));
      fs.rmSync(tmp, { recursive: true, force: true });
      fsyncDir(dir);
    } catch (e) {
      throw ioError(`${dir} was converted to the v2 format, but removing the v1 files failed (the next open removes them)`, e);
    }
    const repaired = [...(reader.report.repaired ?? []), ...built.dropped];
    return {
      from: 'v1',
      versions: built.versions,
      keys: built.keys,
      values: built.values,
      ms: Math.round(performance.now() - started),
      recovery: { ...reader.report, ...(repaired.length > 0 ? { repaired } : {}) },
    };
  } finally {
    reader.close();
  }
}

/** What building the tree did. */
interface Built {
  readonly versions: number;
  readonly keys: number;
  readonly values: number;
  /** Versions repair dropped for a damaged value, one entry per file. */
  readonly dropped: V1RepairedDamage[];
}

/** Builds the whole v2 tree in `tmp` from `reader` and closes it. */
async function build(reader: V1Reader, tmp: string, options: MigrateV1Options): Promise<Built> {
  const disk = new NodeDirectory(tmp);
  // A bulk load: no sync per batch (the tree syncs its files when it flushes and closes),
  // no merge while loading (one full merge at the end writes each entry once more), and
  // larger memtables and caches than a serving tree's: every commit looks up its keys'
  // heads and its value ids, and at 400k versions these sizes took a third less CPU
  // than the defaults (test/migrate-v1.speed.ts). Bounded all the same: ~200 MiB at most.
  const tree = LsmTree.open({
    dir: disk,
    flushRunner: new InlineMergeRunner(disk),
    writer: VERSION_TREE_WRITER,
    sync: 'periodic',
    syncIntervalMs: 60_000,
    autoMerge: false,
    memtableBytes: 32 * MIB,
    cache: 32 * MIB,
  });
  const dropped = new Map<string, { first: V1Version; error: CorruptionError; records: number; bytes: number; keys: Set<string> }>();
  let values = 0;
  let committed: number;
  // Keys of the converted versions (metadata, as the v1 store held in memory).
  const keys = new Set<string>();
  try {
    const store = new VersionStore(tree, { cacheBytes: 64 * MIB });
    const total = reader.count;
    options.onProgress?.(0, total);
    let batch: NewVersion[] = [];
    let text = 0;
    let done = 0;
    for (const v of reader.versions()) {
      let valueText: string | null;
      try {
        valueText = reader.valueText(v);
      } catch (e) {
        if (!(options.repair === true && e instanceof CorruptionError)) throw e;
        const file = reader.fileOf(v.loc);
        const d = dropped.get(file) ?? { first: v, error: e, records: 0, bytes: 0, keys: new Set<string>() };
        d.records++;
        d.bytes += v.len;
        d.keys.add(`${v.namespace}\u0000${v.key}`);
        dropped.set(file, d);
        done++;
        continue;
      }
      batch.push({
        namespace: v.namespace,
        key: v.key,
        versionId: v.versionId,
        previousVersion: v.previousVersion,
        valueId: v.valueId,
        valueText,
        wall: v.wall,
        logical: v.logical,
        node: v.node,
        deleted: v.deleted,
      });
      keys.add(`${v.namespace}\u0000${v.key}`);
      text += valueText?.length ?? 0;
      done++;
      if (batch.length >= BATCH_VERSIONS || text >= BATCH_TEXT) {
        store.commit(batch);
        batch = [];
        text = 0;
        options.onProgress?.(done, total);
        // Lets the flushes run (the inline runner runs them between tasks), and waits
        // when they fall behind, so the memtables stay bounded.
        await (tree.writable() ?? new Promise<void>((resolve) => setImmediate(resolve)));
      }
    }
    if (batch.length > 0) store.commit(batch);
    options.onProgress?.(done, total);
    let droppedCount = 0;
    for (const d of dropped.values()) droppedCount += d.records;
    committed = store.seq;
    if (committed !== total - droppedCount) {
      throw new KoruError(ErrorCodes.INTERNAL, `the converted store holds ${committed} changes, not the ${total - droppedCount} converted`);
    }
    values = store.counters.values;
    await tree.compact();
    tree.setProperties({ ...tree.properties, [MIGRATED_FROM]: 'v1', migratedAt: new Date().toISOString(), versions: committed });
  } finally {
    await tree.close();
  }
  const repaired: V1RepairedDamage[] = [];
  for (const [file, d] of dropped) {
    const savedAs = saveDamagedCopy(file);
    repaired.push({
      file,
      offset: Number(d.error.details.offset ?? 0),
      message: `${d.error.message}; dropped the ${d.records} versions whose value could not be read (the first change ${d.first.seq}, ${d.first.namespace}/${d.first.key}) and saved the damaged file as ${savedAs}`,
      bytes: d.bytes,
      records: d.records,
      keys: d.keys.size,
      savedAs,
    });
  }
  return { versions: committed, keys: keys.size, values, dropped: repaired };
}

/**
 * Moves the tree built in `tmp` into `dir`: the segments first, then the manifest (the
 * commit point), each step made durable before the next. Throws only before the
 * manifest's rename (the directory fsync after it reports nothing), so a caller that
 * catches an error knows the conversion did not commit.
 */
function commit(dir: string, tmp: string): void {
  const built = new NodeDirectory(tmp);
  const manifest = readManifest(built);
  if (manifest === undefined) throw new IoError(`the converted tree in ${tmp} has no manifest`);
  // The tree was closed after a flush: its last log is empty. One that is not would hold
  // writes the moved tree does not have.
  for (const name of built.list()) {
    const m = /^(\d{8})\.kwal$/.exec(name);
    if (m !== null && replayWal(built, Number(m[1])).batches.length > 0) throw new IoError(`the converted tree's log ${tmp}/${name} is not empty after its close`);
  }
  for (const s of manifest.segments) {
    const name = segmentFileName(s.fileNumber);
    fs.renameSync(join(tmp, name), join(dir, name));
  }
  fsyncDir(dir);
  if (fs.existsSync(join(tmp, MANIFEST_FILE + TEMP_SUFFIX))) fs.rmSync(join(tmp, MANIFEST_FILE + TEMP_SUFFIX));
  fs.renameSync(join(tmp, MANIFEST_FILE), join(dir, MANIFEST_FILE));
  fsyncDir(dir);
}
