// Durable databases (`start({ path })`): everything survives close + reopen, the sync
// policies do what they promise, one opener per directory, recovery is reported.
import * as fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { tempDir } from '@koru/vitest-preset/helpers';
import { KoruDelta, type StartOptions, type Version } from '@koru/delta';
import { expectIntactChain, expectKoruError, HEX64 } from './support.js';

let dir: string;
let cleanup: () => void;
const open: KoruDelta[] = [];

async function start(options: Omit<StartOptions, 'path'> = {}, path = dir): Promise<KoruDelta> {
  const db = await KoruDelta.start({ path, onWarning: () => {}, ...options });
  open.push(db);
  return db;
}

beforeEach(() => {
  ({ dir, cleanup } = tempDir('koru-delta-durable-'));
});
afterEach(async () => {
  for (const db of open.splice(0)) await db.close();
  cleanup();
});

const logFiles = () => fs.readdirSync(dir).filter((f) => f.endsWith('.kwal'));

/**
 * Leaves the directory as a kill -9 would: a copy of its files taken while `db` is open
 * (recent writes only in its write-ahead log), without the lock; `db` is then closed and
 * forgotten. (A clean close flushes the log into a segment: nothing would be replayed.)
 */
async function crash(db: KoruDelta): Promise<void> {
  const image = `${dir}-crash`;
  fs.cpSync(dir, image, { recursive: true, filter: (src) => !src.endsWith('/LOCK') });
  open.splice(open.indexOf(db), 1);
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(image, dir);
}
const segmentFiles = () => fs.readdirSync(dir).filter((f) => f.endsWith('.kseg'));

/** Writes a varied workload; returns every version written, per key. */
async function workload(db: KoruDelta): Promise<Map<string, Version[]>> {
  const written = new Map<string, Version[]>();
  const record = (v: Version) => {
    const id = `${v.namespace}/${v.key}`;
    written.set(id, [...(written.get(id) ?? []), v]);
  };
  for (let i = 0; i < 5; i++) record(await db.put('users', 'alice', { name: 'Alice', visits: i }));
  record(await db.put('users', 'bob', { name: 'Bob', tags: ['a', 'b'], 'odd/key~': true }));
  record(await db.delete('users', 'bob'));
  record(await db.put('users', 'bob', { name: 'Bob again' }));
  record(await db.put('users', 'carol', 'to be deleted'));
  record(await db.delete('users', 'carol'));
  for (const v of await db.putMany([
    { namespace: 'orders', key: 'o/1', value: { total: 10.5, items: [1, 2, 3] } },
    { namespace: 'orders', key: 'o/2', value: { total: 10.5, items: [1, 2, 3] } }, // same value: stored once
    { namespace: 'orders', key: 'o/1', value: { total: 11, items: [] } },
  ])) {
    record(v);
  }
  record(await db.put('unicode', '😀 ключ', { text: 'ünïcødé ✓ \u2028', emoji: '👩‍👩‍👧' }));
  record(await db.put('constructor', '__proto__', JSON.parse('{"__proto__":{"polluted":true},"prototype":1}') as never));
  record(await db.put('big', 'blob', { data: 'x'.repeat(200_000) }));
  record(await db.put('scalars', 'n', null));
  return written;
}

async function expectSameData(db: KoruDelta, written: Map<string, Version[]>): Promise<void> {
  for (const [id, versions] of written) {
    const [ns, key] = [id.slice(0, id.indexOf('/')), id.slice(id.indexOf('/') + 1)];
    const h = await db.history(ns, key);
    expect(h, id).toEqual(versions);
    expectIntactChain(h);
    const last = versions[versions.length - 1]!;
    if (last.deleted) expect(await db.contains(ns, key)).toBe(false);
    else expect(await db.getVersion(ns, key)).toEqual(last);
  }
}

describe('close and reopen', () => {
  test('every version survives with its ids, timestamps, hlc and node', async () => {
    const db = await start();
    const nodeId = db.nodeId;
    const written = await workload(db);
    const stats = await db.stats();
    expect(stats.adapter).toBe('file');
    expect(stats.diskBytes).toBeGreaterThan(200_000);
    await db.close();

    const again = await start();
    expect(again.nodeId).toBe(nodeId);
    // Nothing damaged; what was still in the log was replayed.
    expect(again.recovery).toEqual({ replayed: expect.any(Number) });
    await expectSameData(again, written);
    // Logs replayed and flushed may differ in bytes on disk, nothing else.
    expect(await again.stats()).toEqual({ ...stats, diskBytes: expect.any(Number) });
    expect(await again.verify()).toMatchObject({ ok: true, versions: stats.versions, problems: [] });
    expect(await again.listNamespaces()).toEqual(['big', 'constructor', 'orders', 'scalars', 'unicode', 'users']);
    expect(await again.listKeys('users')).toEqual(['alice', 'bob']);

    // Time travel and diff work on reloaded history.
    const alice = written.get('users/alice')!;
    expect(await again.getAt('users', 'alice', alice[2]!.timestamp)).toEqual(
      alice.filter((v) => v.timestamp === alice[2]!.timestamp).at(-1),
    );
    expect((await again.diff('users', 'alice', { from: 0, to: -1 })).changes).toEqual([
      { kind: 'changed', path: '/visits', before: 0, after: 4 },
    ]);
    const proto = (await again.get('constructor', '__proto__')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(Object.keys(proto)).toEqual(['__proto__', 'prototype']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('writes after a reopen continue every chain and the clock', async () => {
    const db = await start();
    const written = await workload(db);
    await db.close();
    const again = await start();
    const maxHlc = [...written.values()].flat().reduce((m, v) => (v.hlc > m ? v.hlc : m), '');
    const head = written.get('users/alice')!.at(-1)!;
    const next = await again.put('users', 'alice', { name: 'Alice', visits: 99 });
    expect(next.previousVersion).toBe(head.versionId);
    expect(next.hlc > maxHlc).toBe(true);
    const revived = await again.put('users', 'carol', 'back', { ifVersion: written.get('users/carol')!.at(-1)!.versionId });
    expect(revived.previousVersion).toBe(written.get('users/carol')!.at(-1)!.versionId);
    written.get('users/alice')!.push(next);
    written.get('users/carol')!.push(revived);
    await again.close();

    const third = await start();
    await expectSameData(third, written);
    expect((await third.verify()).ok).toBe(true);
  });

  test('values read back from disk are deep-frozen', async () => {
    const db = await start();
    await db.put('f', 'k', { list: [1, { deep: true }] });
    await db.put('f', 'k', { list: [] });
    await db.close();
    const again = await start();
    const [old] = await again.history('f', 'k');
    const value = old!.value as { list: [number, { deep: boolean }] };
    expect(() => (value.list[1].deep = false)).toThrow(TypeError);
    expect(() => value.list.push(3 as never)).toThrow(TypeError);
    expect((await again.history('f', 'k'))[0]!.value).toEqual({ list: [1, { deep: true }] });
  });

  test('compact merges everything into one sorted run; history is kept', async () => {
    const db = await start({ memtableBytes: 64 * 1024 });
    const written = await workload(db);
    const versions = (await db.stats()).versions;
    await db.compact();
    expect(segmentFiles().length).toBeGreaterThanOrEqual(1);
    await expectSameData(db, written);
    const after = await db.put('users', 'alice', 'after compact');
    written.get('users/alice')!.push(after);
    await db.close();

    const again = await start();
    expect(again.recovery).toEqual({ replayed: 1 }); // the write after compact, left in the log at close
    await expectSameData(again, written);
    expect(await again.verify()).toMatchObject({ ok: true, versions: versions + 1 });
    await again.compact();
    await again.compact();
    // Everything is in segments: no log remains (the next write starts one).
    expect(logFiles()).toHaveLength(0);
    await expectSameData(again, written);
  });

  test('a small memtable flushes and merges in the background as writes go on, keeping all history', async () => {
    const db = await start({ memtableBytes: 8 * 1024 });
    const versions: Version[] = [];
    for (let i = 0; i < 300; i++) versions.push(await db.put('auto', `k${i % 7}`, { i, pad: 'p'.repeat(50) }));
    await db.close();
    expect(segmentFiles().length).toBeGreaterThan(0);
    const again = await start();
    // Nothing damaged (a few last writes may have been left in their logs and replayed).
    expect(again.recovery).toEqual({ replayed: expect.any(Number) });
    for (let k = 0; k < 7; k++) {
      const h = await again.history('auto', `k${k}`);
      expect(h).toEqual(versions.filter((v) => v.key === `k${k}`));
      expectIntactChain(h);
    }
    expect((await again.verify()).ok).toBe(true);
  });

  test('a database directory is created if missing (nested)', async () => {
    const nested = join(dir, 'a', 'b', 'c');
    const db = await start({}, nested);
    await db.put('x', 'y', 1);
    expect(fs.readdirSync(nested)).toEqual(expect.arrayContaining(['LOCK', 'NODE']));
    expect(fs.readFileSync(join(nested, 'NODE'), 'utf8').split(' ')[0]).toBe(db.nodeId);
  });

  test('a path that is a file → INVALID_ARGUMENT naming it; a path through a file → IO_ERROR (not a raw Node error)', async () => {
    const file = join(dir, 'plain-file');
    fs.writeFileSync(file, 'not a directory');
    await expectKoruError(() => KoruDelta.start({ path: file }), 'INVALID_ARGUMENT', new RegExp(`${file} is a file, not a database directory`));
    await expectKoruError(() => KoruDelta.start({ path: join(file, 'sub') }), 'IO_ERROR', /plain-file/);
  });
});

describe('sync policies', () => {
  let calls: string[];
  let restore: () => void;
  beforeEach(() => {
    const nodeFs = createRequire(import.meta.url)('node:fs') as typeof fs;
    const original = nodeFs.fdatasyncSync;
    const originalAsync = nodeFs.fdatasync;
    calls = [];
    nodeFs.fdatasyncSync = (fd) => {
      calls.push('fdatasync');
      original(fd);
    };
    // The periodic policy's syncs run on libuv's pool (fs.fdatasync), off the event loop.
    nodeFs.fdatasync = ((fd: number, done: (e: NodeJS.ErrnoException | null) => void) => {
      calls.push('fdatasync off the event loop');
      originalAsync(fd, done);
    }) as typeof fs.fdatasync;
    syncBuiltinESMExports();
    restore = () => {
      nodeFs.fdatasyncSync = original;
      nodeFs.fdatasync = originalAsync;
      syncBuiltinESMExports();
    };
  });
  afterEach(() => restore());

  test("'always': fdatasync before every acknowledgement; concurrent writes share one", async () => {
    const db = await start({ sync: 'always' });
    await db.put('s', 'first', 0); // the first write also creates (and syncs) the log file
    calls.length = 0;
    await db.put('s', 'k', 1).then(() => calls.push('ack'));
    expect(calls).toEqual(['fdatasync', 'ack']);
    calls.length = 0;
    await Promise.all(Array.from({ length: 200 }, (_, i) => db.put('s', `k${i % 10}`, i).then(() => calls.push('ack'))));
    const syncs = calls.filter((c) => c === 'fdatasync').length;
    expect(calls[0]).toBe('fdatasync');
    expect(syncs).toBeGreaterThanOrEqual(1);
    expect(syncs).toBeLessThanOrEqual(5); // group commit: not one per write
    await db.close();
    const again = await start({ sync: 'always' });
    expect((await again.stats()).versions).toBe(202);
    expect(await again.history('s', 'k0')).toHaveLength(20);
  });

  test("'periodic' (default): acknowledged once in the OS, fdatasync within the interval, off the event loop", async () => {
    const db = await start({ syncIntervalMs: 50 });
    await db.put('s', 'first', 0); // the first write also creates (and syncs) the log file
    await new Promise((r) => setTimeout(r, 120)); // and its periodic sync passes
    calls.length = 0;
    const v = await db.put('s', 'k', { marker: 'periodic-write' });
    expect(calls).toEqual([]);
    // The record is already in the file (the OS has it) when the write is acknowledged.
    const log = fs.readFileSync(join(dir, logFiles()[0]!));
    expect(log.includes(Buffer.from(v.versionId, 'hex').map((b) => 0xff - b))).toBe(true); // the key holds the id complemented
    expect(log.includes(Buffer.from('periodic-write'))).toBe(true);
    const deadline = Date.now() + 2000;
    while (calls.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(calls).toContain('fdatasync off the event loop');
  });
});

describe('one process owns a directory', () => {
  test('a second start on an open directory → DATABASE_LOCKED naming it', async () => {
    const db = await start();
    await db.put('l', 'k', 1);
    await expectKoruError(() => KoruDelta.start({ path: dir }), 'DATABASE_LOCKED', new RegExp(dir), /already open/);
    // The same directory under another spelling is the same database.
    await expectKoruError(() => KoruDelta.start({ path: `${dir}/./` }), 'DATABASE_LOCKED');
    const link = `${dir}-link`;
    fs.symlinkSync(dir, link);
    try {
      await expectKoruError(() => KoruDelta.start({ path: link }), 'DATABASE_LOCKED');
    } finally {
      fs.rmSync(link);
    }
    expect(await db.get('l', 'k')).toBe(1);
    await db.close();
    const again = await start();
    expect(await again.get('l', 'k')).toBe(1);
  });
});

describe('recovery', () => {
  test('a torn tail is cut off and reported through onWarning; data intact', async () => {
    const db = await start();
    const written = await workload(db);
    await crash(db);
    const log = join(dir, logFiles()[0]!);
    const size = fs.statSync(log).size;
    // Half a record header: what a crash in the middle of write() leaves behind.
    fs.appendFileSync(log, Buffer.from([0x31, 0x52, 0x44, 0x4b, 0x40, 0x00]));
    const warnings: string[] = [];
    const again = await KoruDelta.start({ path: dir, onWarning: (m) => warnings.push(m) });
    open.push(again);
    expect(again.recovery.truncated).toEqual({ file: log, offset: size, bytes: 6 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(log);
    expect(warnings[0]).toContain(String(size));
    // Cut back (unless already flushed into a segment and removed).
    expect(fs.statSync(log, { throwIfNoEntry: false })?.size ?? size).toBe(size);
    await expectSameData(again, written);
    await again.put('users', 'alice', 'after recovery');
    await again.close();
    warnings.length = 0;
    const third = await KoruDelta.start({ path: dir, onWarning: (m) => warnings.push(m) });
    open.push(third);
    expect(warnings).toEqual([]);
    expect(third.recovery.truncated).toBeUndefined();
    expect(await third.get('users', 'alice')).toBe('after recovery');
  });

  test('damage before the synced checkpoint refuses to open; repair opens, keeps what precedes it and warns what it dropped', async () => {
    const db = await start({ sync: 'always' });
    for (let i = 0; i < 20; i++) await db.put('r', `k${i}`, { i });
    await crash(db);
    const log = join(dir, logFiles()[0]!);
    const bytes = fs.readFileSync(log);
    // A flipped byte in the middle of the log: acknowledged, synced records are damaged.
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0xff;
    fs.writeFileSync(log, bytes);
    await expect(KoruDelta.start({ path: dir })).rejects.toMatchObject({ code: 'CORRUPTION', message: expect.stringContaining(log) });
    const warnings: string[] = [];
    const repaired = await KoruDelta.start({ path: dir, repair: true, onWarning: (m) => warnings.push(m) });
    open.push(repaired);
    expect(repaired.recovery.repaired?.length).toBe(1);
    expect(warnings).toEqual([expect.stringMatching(/^koru: repaired .* at offset \d+: .*\(\d+ bytes, \d+ records dropped\)$/)]);
    const kept = (await Promise.all(Array.from({ length: 20 }, (_, i) => repaired.get('r', `k${i}`).then(() => true, () => false)))).filter(Boolean).length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(20);
  });

  test('a throwing onWarning does not leave the database open and unreachable', async () => {
    const db = await start();
    await db.put('w', 'k', 1);
    await crash(db);
    fs.appendFileSync(join(dir, logFiles()[0]!), Buffer.from([0x31, 0x52]));
    const again = await KoruDelta.start({
      path: dir,
      onWarning: () => {
        throw new Error('callback failed');
      },
    });
    open.push(again);
    expect(again.recovery.truncated?.bytes).toBe(2);
    expect(await again.get('w', 'k')).toBe(1);
  });

  test('damage followed by valid records → CORRUPTION naming file and offset; the directory is not left locked', async () => {
    const db = await start({ sync: 'always' });
    const first = await db.put('c', 'k', { v: 'first record' });
    for (let i = 0; i < 5; i++) await db.put('c', 'k', { v: i });
    await crash(db);
    const log = join(dir, logFiles()[0]!);
    const bytes = fs.readFileSync(log);
    const at = bytes.indexOf(Buffer.from('first record'));
    expect(at).toBeGreaterThan(0);
    bytes[at] = bytes[at]! ^ 0xff;
    fs.writeFileSync(log, bytes);
    const e = await expectKoruError(() => KoruDelta.start({ path: dir }), 'CORRUPTION', new RegExp(log), /offset \d+/);
    expect(e.details).toMatchObject({ file: log });
    expect(fs.existsSync(join(dir, 'LOCK'))).toBe(false);
    bytes[at] = bytes[at]! ^ 0xff;
    fs.writeFileSync(log, bytes);
    const again = await start();
    expect((await again.history('c', 'k'))[0]).toEqual(first);
    expect((await again.verify()).ok).toBe(true);
  });
});

test('version ids are content addresses: same data in two databases, different ids per node', async () => {
  const db = await start();
  const v = await db.put('x', 'k', { same: true });
  expect(v.versionId).toMatch(HEX64);
  const mem = await KoruDelta.start();
  try {
    const w = await mem.put('x', 'k', { same: true });
    expect(w.valueId).toBe(v.valueId);
    expect(w.versionId).not.toBe(v.versionId);
  } finally {
    await mem.close();
  }
});

describe('a database of the previous format', () => {
  test('opens: converted once, every version kept, reported in recovery.migrated', async () => {
    const fixture = join(import.meta.dirname, '..', '..', 'storage', 'test', 'fixtures', 'v1', 'snapshot-and-log');
    const expected = JSON.parse(fs.readFileSync(`${fixture}.expected.json`, 'utf8')) as {
      nodeId: string;
      versions: Array<{ seq: number; namespace: string; key: string; versionId: string; deleted: boolean; valueText: string | null }>;
    };
    fs.cpSync(fixture, dir, { recursive: true });
    const db = await start();
    expect(db.recovery.migrated).toMatchObject({ from: 'v1', versions: expected.versions.length });
    expect(db.nodeId).toBe(expected.nodeId);
    expect(fs.readdirSync(dir).filter((f) => /\.(kds|kdl)$/.test(f) || f === 'SYNCED')).toEqual([]);
    for (const v of expected.versions) {
      const change = db.storage.changeAt(v.seq);
      expect(change.version).toMatchObject({ namespace: v.namespace, key: v.key, versionId: v.versionId, deleted: v.deleted });
      if (v.valueText !== null) expect(change.version.value).toEqual(JSON.parse(v.valueText));
    }
    expect(await db.verify()).toMatchObject({ ok: true, versions: expected.versions.length });
    await db.close();
    const again = await start();
    expect(again.recovery.migrated).toBeUndefined();
    expect((await again.stats()).versions).toBe(expected.versions.length);
  });
});
