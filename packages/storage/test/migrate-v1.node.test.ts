// Converting a v1 database directory to the v2 format: the checked-in v1 fixtures (written
// by the v1 store itself) and generated ones (test/v1-writer.ts) convert to a store that
// holds exactly the same versions; damage is CORRUPTION with nothing changed unless
// repair; every state a crash can leave (see migrate-v1.ts) is resumed or finished.
import { fcSeed, prng, tempDir } from '@koru/vitest-preset/helpers';
import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CorruptionError } from '../src/errors.js';
import { migrateV1, MIGRATION_DIR, type MigrationReport } from '../src/node/migrate-v1.js';
import { V1Reader } from '../src/node/v1/v1-reader.js';
import { expectStoreHolds, expectV1Holds, fingerprint, withStore } from './migrate-helpers.js';
import { expectedOf, randomInputs, versionsOf, writeV1, type V1TestVersion } from './v1-writer.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, 'fixtures', 'v1');
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function scratch(): string {
  const { dir, cleanup } = tempDir('koru-migrate-');
  cleanups.push(cleanup);
  return dir;
}

/** A copy of the checked-in fixture `name` in a temp dir, and what it holds. */
function fixture(name: string): { dir: string; nodeId: string; versions: V1TestVersion[] } {
  const dir = join(scratch(), name);
  fs.cpSync(join(fixtures, name), dir, { recursive: true });
  return { dir, ...expectedOf(join(fixtures, `${name}.expected.json`)) };
}

const NODES = ['00000000000000aa', '00000000000000bb'] as const;

/** A generated v1 database of `n` versions, `inSnapshot` of them in the snapshot. */
function generated(n: number, inSnapshot: number, seed: number, nodes: readonly [string, string] = NODES): { dir: string; versions: V1TestVersion[] } {
  const dir = join(scratch(), 'db');
  const versions = versionsOf(randomInputs(n, Math.max(10, n >> 3), prng(seed), nodes));
  writeV1(dir, NODES[0], versions, inSnapshot);
  return { dir, versions };
}

const V1_NAMES = /^(snapshot-\d{6}\.kds|log-\d{6}\.kdl|SYNCED)$/;

/** Checks the directory holds the converted tree and nothing of v1 (NODE as it was). */
function expectV2Only(dir: string, node: string): void {
  const names = fs.readdirSync(dir);
  expect(names.filter((n) => V1_NAMES.test(n))).toEqual([]);
  expect(names).not.toContain(MIGRATION_DIR);
  expect(names).toContain('MANIFEST');
  expect(names.filter((n) => n.endsWith('.kwal'))).toEqual([]);
  expect(fs.readFileSync(join(dir, 'NODE'), 'latin1')).toBe(node);
}

describe('migrateV1 on the v1 store’s own directories', () => {
  for (const name of ['snapshot-and-log', 'log-only', 'empty']) {
    it(`converts ${name} to a store holding every version, and a second call changes nothing`, async () => {
      const { dir, versions, nodeId } = fixture(name);
      const node = fs.readFileSync(join(dir, 'NODE'), 'latin1');
      expect(node.startsWith(nodeId)).toBe(true);
      expectV1Holds(dir, versions);
      const progress: Array<[number, number]> = [];
      const report = (await migrateV1(dir, { onProgress: (d, t) => progress.push([d, t]) }))!;
      expect(report).toMatchObject({ from: 'v1', versions: versions.length, keys: new Set(versions.map((v) => `${v.namespace}/${v.key}`)).size });
      // Counted as stats() does: a small value once per version holding it, a large one (over 1 KiB) once.
      const live = versions.filter((v) => v.valueText !== null);
      const isLarge = (v: (typeof live)[number]): boolean => new TextEncoder().encode(v.valueText!).length > 1024;
      expect(report.values).toBe(live.filter((v) => !isLarge(v)).length + new Set(live.filter(isLarge).map((v) => v.valueId)).size);
      expect(report.recovery.repaired).toBeUndefined();
      expect(progress.at(-1)).toEqual([versions.length, versions.length]);
      expectV2Only(dir, node);
      await expectStoreHolds(dir, versions);
      await withStore(dir, (_store, tree) => expect(tree.properties).toMatchObject({ migratedFrom: 'v1', versions: versions.length }));
      const before = fingerprint(dir);
      expect(await migrateV1(dir, {})).toBeUndefined();
      expect(fingerprint(dir)).toEqual(before);
    });
  }

  it('the fixtures hold what they should: tombstones, shared values, a large value, two nodes, a superseded version', () => {
    const { versions, nodeId } = fixture('snapshot-and-log');
    expect(versions.some((v) => v.deleted)).toBe(true);
    expect(versions.some((v) => (v.valueText?.length ?? 0) > 1024)).toBe(true);
    expect(new Set(versions.map((v) => v.namespace)).size).toBeGreaterThanOrEqual(4);
    expect(versions.filter((v) => v.node !== nodeId).length).toBe(2);
    const ids = versions.filter((v) => !v.deleted).map((v) => v.valueId);
    expect(new Set(ids).size).toBeLessThan(ids.length);
    // dave: the peer's version arrived after a later local one.
    const dave = versions.filter((v) => v.key === 'dave');
    expect(dave[1]!.node).not.toBe(nodeId);
    expect(dave[1]!.hlc < dave[0]!.hlc).toBe(true);
  });
});

describe('migrateV1 on generated v1 directories', () => {
  for (const [n, inSnapshot] of [
    [3000, 2000],
    [1500, 0],
    [800, 800],
  ] as const) {
    it(`converts ${n} versions (${inSnapshot} in the snapshot) exactly`, async () => {
      const seed = fcSeed(`migrate ${n}/${inSnapshot}`);
      const { dir, versions } = generated(n, inSnapshot, seed);
      expectV1Holds(dir, versions);
      const report = (await migrateV1(dir, {}))!;
      expect(report.versions).toBe(n);
      expect(report.recovery).toEqual({ replayed: n - inSnapshot, fromSnapshot: inSnapshot });
      expectV2Only(dir, fs.readFileSync(join(dir, 'NODE'), 'latin1'));
      await expectStoreHolds(dir, versions);
    });
  }
});

/** Flips one bit of `file` at `offset`. */
function flip(file: string, offset: number): void {
  const b = fs.readFileSync(file);
  b[offset]! ^= 0x10;
  fs.writeFileSync(file, b);
}

async function corruption(p: Promise<MigrationReport | undefined>): Promise<CorruptionError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CorruptionError);
  return e as CorruptionError;
}

/** The v1 files of `dir`, name → bytes. */
function v1Files(dir: string): Map<string, Buffer> {
  return new Map(
    fs
      .readdirSync(dir)
      .filter((n) => V1_NAMES.test(n))
      .map((n) => [n, fs.readFileSync(join(dir, n))]),
  );
}

/** Segment files in `dir` that its manifest does not name. */
async function unnamedSegments(dir: string): Promise<string[]> {
  const named = await withStore(dir, (_s, tree) => new Set(tree.segments().map((s) => `${String(s.fileNumber).padStart(8, '0')}.kseg`)));
  return fs.readdirSync(dir).filter((n) => n.endsWith('.kseg') && !named.has(n));
}

describe('migrateV1 after a crash', () => {
  it('mid-build (a temp dir) or mid-move (segments moved in, no MANIFEST): starts again from the v1 files', async () => {
    const { dir, versions } = fixture('snapshot-and-log');
    const node = fs.readFileSync(join(dir, 'NODE'), 'latin1');
    // What an interrupted attempt leaves: its temp dir, and segments, a log and a
    // manifest's temporary file moved or written into the directory (garbage here).
    fs.mkdirSync(join(dir, MIGRATION_DIR));
    fs.writeFileSync(join(dir, MIGRATION_DIR, '00000001.kwal'), 'partial');
    for (const n of ['00000002.kseg', '00000007.kseg', '00000003.kwal', '00000003.kwal.synced', 'MANIFEST.tmp']) fs.writeFileSync(join(dir, n), 'stray');
    const report = (await migrateV1(dir, {}))!;
    expect(report.versions).toBe(versions.length);
    expectV2Only(dir, node);
    expect(fs.readdirSync(dir).filter((n) => n === 'MANIFEST.tmp' || n.endsWith('.synced'))).toEqual([]);
    expect(await unnamedSegments(dir)).toEqual([]);
    await expectStoreHolds(dir, versions);
  });

  it('after the commit (MANIFEST in place, v1 files and the temp dir left): finishes the cleanup only', async () => {
    const { dir, versions } = fixture('snapshot-and-log');
    const v1 = v1Files(dir);
    await migrateV1(dir, {});
    const converted = fingerprint(dir);
    for (const [n, bytes] of v1) fs.writeFileSync(join(dir, n), bytes);
    fs.mkdirSync(join(dir, MIGRATION_DIR));
    fs.writeFileSync(join(dir, MIGRATION_DIR, '00000009.kwal'), '');
    expect(await migrateV1(dir, {})).toBeUndefined();
    expect(fingerprint(dir)).toEqual(converted);
    await expectStoreHolds(dir, versions);
  });

  it('a directory with no v1 file: undefined, nothing changed but a leftover temp dir removed', async () => {
    const dir = scratch();
    fs.writeFileSync(join(dir, 'NODE'), 'whatever');
    fs.writeFileSync(join(dir, '00000001.kwal'), 'a v2 log');
    fs.writeFileSync(join(dir, 'snapshot-1.kds'), 'not a v1 name');
    const before = fingerprint(dir);
    expect(await migrateV1(dir, {})).toBeUndefined();
    expect(fingerprint(dir)).toEqual(before);
    fs.mkdirSync(join(dir, MIGRATION_DIR));
    fs.writeFileSync(join(dir, MIGRATION_DIR, 'MANIFEST'), 'x');
    expect(await migrateV1(dir, {})).toBeUndefined();
    expect(fingerprint(dir)).toEqual(before);
  });

  it('leaves v1 files beside a v2 database that was not converted from them', async () => {
    const { dir } = fixture('log-only');
    const v1 = v1Files(dir);
    await migrateV1(dir, {});
    await withStore(dir, (_s, tree) => tree.setProperties({}));
    for (const [n, bytes] of v1) fs.writeFileSync(join(dir, n), bytes);
    const before = fingerprint(dir);
    expect(await migrateV1(dir, {})).toBeUndefined();
    expect(fingerprint(dir)).toEqual(before);
  });

  it('a torn log tail (past SYNCED): converted without it and reported', async () => {
    const { dir, versions } = generated(300, 100, 3);
    const log = join(dir, 'log-000001.kdl');
    const good = fs.statSync(log).size;
    fs.appendFileSync(log, Buffer.from([0x31, 0x52, 0x44, 0x4b, 0xff, 0, 0, 0, 1, 2]));
    const report = (await migrateV1(dir, {}))!;
    expect(report.recovery.truncated).toEqual({ file: log, offset: good, bytes: 10 });
    await expectStoreHolds(dir, versions);
  });

  it('a missing NODE: CORRUPTION, nothing changed; repair rewrites it with the one node the versions name', async () => {
    const { dir, versions } = generated(200, 50, 9, [NODES[0], NODES[0]]);
    const node = fs.readFileSync(join(dir, 'NODE'), 'latin1');
    fs.rmSync(join(dir, 'NODE'));
    const before = fingerprint(dir);
    const e = await corruption(migrateV1(dir, {}));
    expect(e.details).toEqual({ file: join(dir, 'NODE'), offset: 0 });
    expect(fingerprint(dir)).toEqual(before);
    const report = (await migrateV1(dir, { repair: true }))!;
    expect(report.recovery.repaired!.map((r) => r.file)).toEqual([join(dir, 'NODE')]);
    expectV2Only(dir, node);
    await expectStoreHolds(dir, versions);
  });

  it('a missing NODE when the versions name two nodes: CORRUPTION even with repair, nothing changed', async () => {
    const { dir } = fixture('log-only');
    fs.rmSync(join(dir, 'NODE'));
    const before = fingerprint(dir);
    for (const repair of [false, true]) {
      const e = await corruption(migrateV1(dir, { repair }));
      expect(e.details).toEqual({ file: join(dir, 'NODE'), offset: 0 });
      expect(fingerprint(dir)).toEqual(before);
    }
  });
});

describe('migrateV1 on a damaged v1 directory', () => {
  it('a damaged log record: CORRUPTION naming file and offset, nothing changed; repair converts the batches before it', async () => {
    const { dir, versions } = generated(400, 0, 7);
    const log = join(dir, 'log-000000.kdl');
    const at = Math.floor(fs.statSync(log).size / 2);
    flip(log, at);
    const damaged = fs.readFileSync(log);
    const before = fingerprint(dir);
    const e = await corruption(migrateV1(dir, {}));
    expect(e.details).toMatchObject({ file: log });
    expect(e.details.offset as number).toBeLessThanOrEqual(at);
    expect(fingerprint(dir)).toEqual(before);
    const report = (await migrateV1(dir, { repair: true }))!;
    const [damage] = report.recovery.repaired!;
    expect(damage!.file).toBe(log);
    const kept = report.versions;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(versions.length);
    expect(kept).toBe(report.recovery.replayed);
    // The dropped records are still in the copy saved aside, which the cleanup keeps.
    expect(fs.readFileSync(damage!.savedAs!).equals(damaged)).toBe(true);
    await expectStoreHolds(dir, versions.slice(0, kept));
  });

  it('a damaged snapshot value: CORRUPTION at its offset, nothing changed; repair drops the versions holding it', async () => {
    const { dir, versions } = generated(300, 300, 11);
    const snap = join(dir, 'snapshot-000001.kds');
    // The first value written (at offset 8, after the magic; its text after its length
    // and CRC): the versions that hold it are those whose location names it.
    const reader = V1Reader.open(dir);
    const holders = new Set([...reader.versions()].filter((v) => v.loc === -(8 + 1)).map((v) => v.seq));
    reader.close();
    expect(holders.size).toBeGreaterThan(0);
    flip(snap, 8 + 8 + 2);
    const before = fingerprint(dir);
    const e = await corruption(migrateV1(dir, {}));
    expect(e.details).toEqual({ file: snap, offset: 8 });
    expect(fingerprint(dir)).toEqual(before);
    const report = (await migrateV1(dir, { repair: true }))!;
    const dropped = report.recovery.repaired!.find((r) => r.file === snap)!;
    expect(dropped.offset).toBe(8);
    expect(dropped.records).toBe(holders.size);
    expect(fs.existsSync(dropped.savedAs!)).toBe(true);
    // The others keep their order; the seq of each moves down past the dropped ones.
    const survivors = versions.filter((v) => !holders.has(v.seq));
    expect(report.versions).toBe(survivors.length);
    await expectStoreHolds(
      dir,
      survivors.map((v, i) => ({ ...v, seq: i + 1 })),
    );
  });

  it('damaged snapshot metadata: CORRUPTION with or without repair, nothing changed', async () => {
    const { dir } = generated(200, 150, 5);
    const snap = join(dir, 'snapshot-000001.kds');
    flip(snap, fs.statSync(snap).size - 20);
    const before = fingerprint(dir);
    for (const repair of [false, true]) {
      const e = await corruption(migrateV1(dir, { repair }));
      expect(e.details).toMatchObject({ file: snap });
      expect(fingerprint(dir)).toEqual(before);
    }
  });
});

