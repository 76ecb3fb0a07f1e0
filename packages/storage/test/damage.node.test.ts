// Damage is reported as damage: a cut or a flipped byte in acknowledged, synced log
// records, a missing snapshot, a damaged NODE refuse to open with CORRUPTION (naming
// file, offset and what is lost); a genuine torn tail past the SYNCED checkpoint is
// still cut quietly; `repair` salvages the records before the damage and says what it
// dropped; a failed open releases its lock and descriptors.
import { ErrorCodes } from '@koru/engine';
import { CausalStorage } from '@koru/storage';
import { FileAdapter, type FileAdapterOptions } from '@koru/storage/node';
import { tempDir } from '@koru/vitest-preset/helpers';
import { appendFileSync, copyFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { parseLog, rejection } from './disk-helpers.js';

const LOG0 = 'log-000000.kdl';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function newDir(): string {
  const { dir, cleanup } = tempDir('koru-damage-');
  cleanups.push(cleanup);
  return dir;
}

function open(dir: string, file: FileAdapterOptions = {}): Promise<CausalStorage> {
  return CausalStorage.open({ adapter: new FileAdapter(dir, file) });
}

type Failure = { code?: string; message: string; details?: Record<string, unknown> };

/** Opens `dir` expecting CORRUPTION; checks nothing was changed and the lock was released. */
async function refuses(dir: string, file = join(dir, LOG0)): Promise<Failure> {
  const before = existsSync(file) ? readFileSync(file) : null;
  const e = await rejection(open(dir));
  expect(e.code, e.message).toBe(ErrorCodes.CORRUPTION);
  expect(e.details?.file).toBe(file);
  expect(e.message).toContain(file);
  if (before !== null) expect(readFileSync(file).equals(before)).toBe(true);
  expect(existsSync(join(dir, 'LOCK'))).toBe(false);
  return e;
}

/** Every data file of an open database as a crash would leave it (the page cache survives a kill). */
function crashCopy(dir: string): string {
  const copy = newDir();
  for (const f of readdirSync(dir)) if (f !== 'LOCK') copyFileSync(join(dir, f), join(copy, f));
  return copy;
}

/** A copy of a closed database's directory. */
const copyOf = crashCopy;

/** 60 keys written in 20 acknowledged batches, closed cleanly. */
async function acknowledged(dir: string, sync: 'always' | 'periodic' = 'periodic'): Promise<Buffer> {
  const s = await open(dir, { sync });
  for (let b = 0; b < 20; b++) {
    await s.putMany([0, 1, 2].map((i) => ({ namespace: 'ack', key: `k${b * 3 + i}`, value: { b, i, pad: 'x'.repeat(100) } })));
  }
  await s.close();
  return readFileSync(join(dir, LOG0));
}

describe('acknowledged records cut off or damaged', () => {
  it('a truncation anywhere in a cleanly closed log is CORRUPTION naming file, offset and the bytes gone', async () => {
    const src = newDir();
    const full = await acknowledged(src);
    const records = parseLog(full);
    expect(records).toHaveLength(60);
    let cases = 0;
    // Every 37th byte, plus the last byte and every record boundary of the last batches.
    const cuts = new Set<number>([full.length - 1, ...records.slice(-6).map((r) => r.start)]);
    for (let len = 16; len < full.length; len += 37) cuts.add(len);
    const dir = newDir();
    for (const f of ['NODE', 'SYNCED']) copyFileSync(join(src, f), join(dir, f));
    for (const len of cuts) {
      writeFileSync(join(dir, LOG0), full.subarray(0, len));
      const e = await refuses(dir);
      expect(e.details?.missingBytes, `cut at ${len}`).toBe(full.length - len);
      expect(e.message).toContain(`${full.length - len} bytes are gone`);
      expect(typeof e.details?.offset).toBe('number');
      cases++;
    }
    expect(cases).toBeGreaterThan(50);
  });

  it('a flipped byte in the last batch of a cleanly closed log is CORRUPTION, with what it holds', async () => {
    const src = newDir();
    const full = await acknowledged(src);
    const last3 = parseLog(full).slice(-3);
    const dir = copyOf(src);
    let cases = 0;
    for (let at = last3[0]!.start; at < full.length; at += 7) {
      const damaged = Buffer.from(full);
      damaged[at]! ^= 0x10;
      writeFileSync(join(dir, LOG0), damaged);
      const e = await refuses(dir);
      const hit = last3.find((r) => r.start <= at && at < r.end)!;
      expect(e.details, `flip at ${at}`).toMatchObject({ offset: hit.start, validEnd: last3[0]!.start, bytes: full.length - last3[0]!.start });
      // The batch's two undamaged records are still readable: counted as lost.
      expect(e.details?.records).toBe(2);
      cases++;
    }
    expect(cases).toBeGreaterThan(10);
  });

  it("after a 'periodic' session then an 'always' one, a flip in any record of the second is CORRUPTION", async () => {
    const dir = newDir();
    const s1 = await open(dir, { sync: 'periodic' });
    for (let i = 0; i < 5; i++) await s1.put('p', `k${i}`, { i });
    await s1.close();
    const firstEnd = statSync(join(dir, LOG0)).size;
    const s2 = await open(dir, { sync: 'always' });
    for (let i = 0; i < 8; i++) await s2.put('a', `k${i}`, { i, text: 'acknowledged after fdatasync' });
    // Killed, not closed: what is on disk is what the 'always' commits left.
    const crashed = crashCopy(dir);
    await s2.close();
    const full = readFileSync(join(crashed, LOG0));
    const second = parseLog(full).filter((r) => r.start >= firstEnd);
    expect(second).toHaveLength(8);
    for (const rec of second) {
      for (const at of [rec.start + 1, rec.start + 20, rec.end - 2]) {
        const copy = copyOf(crashed);
        const damaged = Buffer.from(full);
        damaged[at]! ^= 0x01;
        writeFileSync(join(copy, LOG0), damaged);
        const e = await refuses(copy);
        expect(e.details?.offset, `flip at ${at}`).toBe(rec.start);
      }
    }
  });
});

describe('a genuine torn tail is still cut quietly', () => {
  it('garbage appended after a clean close (a write cut short) is cut and reported exactly', async () => {
    const dir = newDir();
    const full = await acknowledged(dir);
    const partial = readFileSync(join(dir, LOG0)).subarray(16, 16 + 90);
    appendFileSync(join(dir, LOG0), partial);
    const s = await open(dir);
    try {
      expect(s.recovery).toMatchObject({ replayed: 60, truncated: { file: join(dir, LOG0), offset: full.length, bytes: 90 } });
      expect(s.recovery.repaired).toBeUndefined();
      expect(s.get('ack', 'k59')).toMatchObject({ b: 19, i: 2 });
    } finally {
      await s.close();
    }
    expect(readFileSync(join(dir, LOG0)).equals(full)).toBe(true);
  });

  it("a batch cut mid-write after the last checkpoint ('periodic', not yet synced) is a torn tail at every cut", async () => {
    const dir = newDir();
    await acknowledged(dir);
    const synced = statSync(join(dir, LOG0)).size;
    // A long interval: the next batch is acknowledged (in the OS) but never synced.
    const s = await open(dir, { sync: 'periodic', syncIntervalMs: 600_000 });
    await s.putMany([0, 1, 2].map((i) => ({ namespace: 'late', key: `k${i}`, value: 'y'.repeat(50) })));
    const crashed = crashCopy(dir);
    await s.close();
    const full = readFileSync(join(crashed, LOG0));
    expect(full.length).toBeGreaterThan(synced);
    for (let len = synced + 1; len < full.length; len += 13) {
      const copy = copyOf(crashed);
      writeFileSync(join(copy, LOG0), full.subarray(0, len));
      const t = await open(copy);
      try {
        expect(t.recovery).toMatchObject({ replayed: 60, truncated: { offset: synced, bytes: len - synced } });
        expect(t.contains('late', 'k0')).toBe(false);
      } finally {
        await t.close();
      }
    }
  });
});

describe('repair', () => {
  it('keeps the records before the damage, saves the damaged file aside and reports what it dropped', async () => {
    const dir = newDir();
    const full = await acknowledged(dir);
    const records = parseLog(full);
    // Record 31 (batch 10) damaged: batches 0-9 survive, 10-19 (30 records, 30 keys) do not.
    const hit = records[31]!;
    const damaged = Buffer.from(full);
    damaged[hit.start + 25]! ^= 0x04;
    writeFileSync(join(dir, LOG0), damaged);
    const e = await refuses(dir);
    expect(e.details).toMatchObject({ offset: hit.start, validEnd: records[30]!.start, records: 29, keys: 29 });
    expect(e.message).toMatch(/29 readable records of 29 keys/);

    const s = await open(dir, { repair: true });
    try {
      const [r] = s.recovery.repaired!;
      expect(s.recovery.repaired).toHaveLength(1);
      expect(r).toMatchObject({ file: join(dir, LOG0), offset: hit.start, bytes: full.length - records[30]!.start, records: 29, keys: 29 });
      expect(r!.message).toContain('saved the damaged file');
      expect(readFileSync(r!.savedAs!).equals(damaged)).toBe(true);
      expect(s.recovery.replayed).toBe(30);
      expect(s.get('ack', 'k29')).toMatchObject({ b: 9 });
      expect(s.contains('ack', 'k30')).toBe(false);
      expect((await s.verify()).ok).toBe(true);
      await s.put('ack', 'after', 'repair');
    } finally {
      await s.close();
    }
    // Opens normally afterwards; the saved copy is left alone.
    const t = await open(dir);
    try {
      expect(t.recovery.repaired).toBeUndefined();
      expect(t.get('ack', 'after')).toBe('repair');
    } finally {
      await t.close();
    }
    expect(readdirSync(dir).filter((f) => f.includes('.damaged-'))).toHaveLength(1);
  });

  it('accepts a cut log, reporting the synced bytes that are gone', async () => {
    const dir = newDir();
    const full = await acknowledged(dir);
    const records = parseLog(full);
    writeFileSync(join(dir, LOG0), full.subarray(0, records[45]!.start + 10));
    const s = await open(dir, { repair: true });
    try {
      expect(s.recovery.replayed).toBe(45);
      expect(s.recovery.repaired).toMatchObject([{ file: join(dir, LOG0), offset: records[45]!.start, bytes: full.length - records[45]!.start }]);
    } finally {
      await s.close();
    }
    const t = await open(dir);
    expect(t.recovery.replayed).toBe(45);
    await t.close();
  });
});

describe('files the log depends on', () => {
  async function compacted(dir: string): Promise<void> {
    const s = await open(dir);
    await s.put('c', 'before', 1);
    await s.compact();
    await s.put('c', 'after', 2);
    await s.close();
  }

  it('a deleted snapshot refuses to open, naming it, and the orphaned log is never overwritten', async () => {
    const dir = newDir();
    await compacted(dir);
    const log = readFileSync(join(dir, 'log-000001.kdl'));
    rmSync(join(dir, 'snapshot-000001.kds'));
    const e = await refuses(dir, join(dir, 'snapshot-000001.kds'));
    expect(e.message).toMatch(/is missing/);
    expect(await rejection(open(dir, { repair: true }))).toMatchObject({ code: ErrorCodes.CORRUPTION });
    expect(readFileSync(join(dir, 'log-000001.kdl')).equals(log)).toBe(true);
    expect(existsSync(join(dir, LOG0))).toBe(false);
  });

  it('a deleted snapshot and log still refuse: the checkpoint names their generation', async () => {
    const dir = newDir();
    await compacted(dir);
    rmSync(join(dir, 'snapshot-000001.kds'));
    rmSync(join(dir, 'log-000001.kdl'));
    await refuses(dir, join(dir, 'snapshot-000001.kds'));
  });

  it('a deleted log whose records were synced refuses; repair starts an empty one and says so', async () => {
    const dir = newDir();
    await acknowledged(dir);
    rmSync(join(dir, LOG0));
    const e = await refuses(dir);
    expect(e.message).toMatch(/is missing/);
    const s = await open(dir, { repair: true });
    expect(s.recovery.repaired).toMatchObject([{ file: join(dir, LOG0), offset: 0 }]);
    expect(s.stats().versions).toBe(0);
    await s.close();
  });

  it('a damaged checkpoint refuses; repair ignores it', async () => {
    const dir = newDir();
    await acknowledged(dir);
    const synced = readFileSync(join(dir, 'SYNCED'));
    synced[0]! ^= 0x01;
    writeFileSync(join(dir, 'SYNCED'), synced);
    await refuses(dir, join(dir, 'SYNCED'));
    const s = await open(dir, { repair: true });
    expect(s.recovery).toMatchObject({ replayed: 60, repaired: [{ file: join(dir, 'SYNCED') }] });
    await s.close();
  });
});

describe('the node id', () => {
  it('is checksummed: a damaged or missing NODE refuses to open; repair re-derives it from the stored versions', async () => {
    const dir = newDir();
    const s = await open(dir);
    const id = s.nodeId;
    await s.put('n', 'k', 1);
    await s.close();
    const text = readFileSync(join(dir, 'NODE'), 'latin1');
    expect(text).toBe(`${id} ${crc32(Buffer.from(id))}\n`);
    // One hex digit changed is still a well-formed id: only the checksum catches it.
    const other = (id[0] === 'a' ? 'b' : 'a') + id.slice(1);
    for (const damaged of [text.replace(id, other), 'garbage', '']) {
      writeFileSync(join(dir, 'NODE'), damaged);
      const e = await refuses(dir, join(dir, 'NODE'));
      expect(e.message).toMatch(/node id/);
    }
    rmSync(join(dir, 'NODE'));
    await refuses(dir, join(dir, 'NODE'));
    const r = await open(dir, { repair: true });
    expect(r.nodeId).toBe(id);
    expect(r.recovery.repaired).toMatchObject([{ file: join(dir, 'NODE') }]);
    await r.close();
    expect(readFileSync(join(dir, 'NODE'), 'latin1')).toBe(text);
  });

  it('repair refuses to guess when the stored versions name several nodes', async () => {
    const dir = newDir();
    const s = await open(dir);
    await s.put('n', 'k', 1);
    await s.close();
    // Another node's records, as replication would have stored them.
    const log = readFileSync(join(dir, LOG0));
    const rec = parseLog(log)[0]!;
    const other = Buffer.from(log.toString('latin1', rec.start + 12, rec.end).replace(/"n":"[0-9a-f]{16}"/, '"n":"00000000000000ff"'), 'latin1');
    const head = Buffer.alloc(12);
    head.writeUInt32LE(0x4b445231, 0);
    head.writeUInt32LE(other.length, 4);
    head.writeUInt32LE(crc32(other), 8);
    appendFileSync(join(dir, LOG0), Buffer.concat([head, other]));
    rmSync(join(dir, 'SYNCED'));
    rmSync(join(dir, 'NODE'));
    const e = await rejection(open(dir, { repair: true }));
    expect(e).toMatchObject({ code: ErrorCodes.CORRUPTION, details: { file: join(dir, 'NODE') } });
    expect(e.message).toMatch(/2 nodes/);
  });
});

describe('databases written by the previous version', () => {
  it('open with a NODE without checksum and no SYNCED, and are upgraded in place', async () => {
    const dir = newDir();
    await acknowledged(dir, 'always');
    const id = readFileSync(join(dir, 'NODE'), 'latin1').split(' ')[0]!;
    // The previous layout: the bare id, and no checkpoint ('always' sessions wrote none).
    writeFileSync(join(dir, 'NODE'), id);
    rmSync(join(dir, 'SYNCED'));
    const s = await open(dir);
    try {
      expect(s.nodeId).toBe(id);
      expect(s.recovery).toEqual({ replayed: 60, fromSnapshot: 0 });
      expect(s.get('ack', 'k59')).toMatchObject({ b: 19 });
    } finally {
      await s.close();
    }
    expect(readFileSync(join(dir, 'NODE'), 'latin1')).toBe(`${id} ${crc32(Buffer.from(id))}\n`);
    expect(readFileSync(join(dir, 'SYNCED'), 'latin1')).toMatch(new RegExp(`^0 ${statSync(join(dir, LOG0)).size} \\d+\\n +$`));
  });
});

describe('a failed open', () => {
  it('releases the lock and every descriptor: a retry in the same process gets CORRUPTION again', async () => {
    const dir = newDir();
    await open(dir).then(async (s) => {
      await s.put('c', 'before', 1);
      await s.compact();
      await s.put('c', 'after', 2);
      await s.close();
    });
    const full = readFileSync(join(dir, 'log-000001.kdl'));
    writeFileSync(join(dir, 'log-000001.kdl'), full.subarray(0, full.length - 3));
    const fds = () => readdirSync('/proc/self/fd').length;
    const before = fds();
    for (let i = 0; i < 3; i++) await refuses(dir, join(dir, 'log-000001.kdl'));
    expect(fds()).toBe(before);
    // The snapshot was open when the log failed: damage in it is released the same way.
    const snap = readFileSync(join(dir, 'snapshot-000001.kds'));
    snap[snap.length - 20]! ^= 0x01;
    writeFileSync(join(dir, 'snapshot-000001.kds'), snap);
    for (let i = 0; i < 3; i++) expect((await rejection(open(dir))).code).toBe(ErrorCodes.CORRUPTION);
    expect(fds()).toBe(before);
    expect(existsSync(join(dir, 'LOCK'))).toBe(false);
  });
});
