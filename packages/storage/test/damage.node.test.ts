// Damage is reported as damage (format version 2): a cut or a flipped byte in
// acknowledged, synced write-ahead-log records, a missing log, segment or manifest, a
// damaged synced-point sidecar or NODE refuse to open with CORRUPTION (naming file,
// offset and what is lost); a genuine torn tail past the synced point is still cut
// quietly; `repair` salvages the batches before the damage and says what it dropped;
// a failed open releases its lock, descriptors and worker threads.
import { ErrorCodes } from '@koru/engine';
import { CausalStorage } from '@koru/storage';
import { FileAdapter, type FileAdapterOptions } from '@koru/storage/node';
import { tempDir } from '@koru/vitest-preset/helpers';
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { copyFiles, currentWal, filesOf, parseSegment, parseWal, rejection, syncedPoint, syncedSidecar, type Failure } from './disk-helpers.js';

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
  return CausalStorage.open({ adapter: new FileAdapter(dir, { keepLogBytes: 0, ...file }) });
}

/** Opens `dir` expecting CORRUPTION naming `file`; checks nothing was changed and the lock was released. */
async function refuses(dir: string, file: string, options: FileAdapterOptions = {}): Promise<Failure> {
  const before = existsSync(file) ? readFileSync(file) : null;
  const e = await rejection(open(dir, options));
  expect(e.code, e.message).toBe(ErrorCodes.CORRUPTION);
  expect(String(e.details?.file)).toContain(basename(file));
  expect(e.message).toContain(basename(file));
  if (before !== null) expect(readFileSync(file).equals(before)).toBe(true);
  expect(existsSync(join(dir, 'LOCK'))).toBe(false);
  return e;
}

/**
 * 60 keys written in 20 acknowledged batches under `sync`, then the process killed: the
 * crash image (a copy of the files; the page cache survives a kill) and its log.
 */
async function acknowledged(sync: 'always' | 'periodic' = 'always'): Promise<{ dir: string; wal: string; full: Buffer }> {
  const live = newDir();
  const s = await open(live, { sync });
  for (let b = 0; b < 20; b++) {
    await s.putMany([0, 1, 2].map((i) => ({ namespace: 'ack', key: `k${b * 3 + i}`, value: { b, i, pad: 'x'.repeat(100) } })));
  }
  const dir = copyFiles(live, newDir());
  await s.close();
  const wal = currentWal(dir);
  return { dir, wal, full: readFileSync(wal) };
}

describe('acknowledged records cut off or damaged', () => {
  it('a cut anywhere in a synced log is CORRUPTION naming file, offset and the bytes gone', async () => {
    const { dir, wal, full } = await acknowledged();
    const records = parseWal(full);
    expect(records).toHaveLength(20);
    // Every 37th byte, plus the last byte and every record boundary of the last batches.
    const cuts = new Set<number>([full.length - 1, ...records.slice(-6).map((r) => r.start)]);
    for (let len = 0; len < full.length; len += 37) cuts.add(len);
    for (const len of cuts) {
      writeFileSync(wal, full.subarray(0, len));
      const e = await refuses(dir, wal);
      expect(e.details, `cut at ${len}`).toMatchObject({ file: wal, missingBytes: full.length - len });
      expect(e.message).toContain(`${full.length - len} bytes are gone`);
      expect(typeof e.details?.offset).toBe('number');
    }
    expect(cuts.size).toBeGreaterThan(50);
  });

  it('a flipped byte in one of the last batches of a synced log is CORRUPTION, with what it holds', async () => {
    const { dir, wal, full } = await acknowledged();
    const last3 = parseWal(full).slice(-3);
    let cases = 0;
    for (let at = last3[0]!.start; at < full.length; at += 7) {
      const damaged = Buffer.from(full);
      damaged[at]! ^= 0x10;
      writeFileSync(wal, damaged);
      const e = await refuses(dir, wal);
      const hit = last3.findIndex((r) => r.start <= at && at < r.end);
      // The undamaged batches after it are still readable: counted as lost.
      expect(e.details, `flip at ${at}`).toMatchObject({ offset: last3[hit]!.start, validEnd: last3[hit]!.start, bytes: full.length - last3[hit]!.start, records: 2 - hit });
      cases++;
    }
    expect(cases).toBeGreaterThan(10);
  });

  it("under 'periodic', once the background sync ran, a flip in any synced record is CORRUPTION; past the synced point, a torn tail", async () => {
    const live = newDir();
    const s = await open(live, { sync: 'periodic', syncIntervalMs: 5 });
    for (let i = 0; i < 6; i++) await s.put('p', `k${i}`, { i });
    // Until the background sync covers them.
    const liveWal = currentWal(live);
    for (let waited = 0; syncedPoint(readFileSync(`${liveWal}.synced`)) < statSync(liveWal).size; waited += 5) {
      expect(waited).toBeLessThan(5000);
      await new Promise((r) => setTimeout(r, 5));
    }
    const crashedSynced = copyFiles(live, newDir());
    await s.close();
    const wal = basename(currentWal(crashedSynced));
    const full = readFileSync(join(crashedSynced, wal));
    const records = parseWal(full);
    expect(records).toHaveLength(6);
    for (const rec of records) {
      for (const at of [rec.start + 1, rec.start + 14, rec.end - 2]) {
        const dir = copyFiles(crashedSynced, newDir());
        const damaged = Buffer.from(full);
        damaged[at]! ^= 0x01;
        writeFileSync(join(dir, wal), damaged);
        expect((await refuses(dir, join(dir, wal))).details?.offset, `flip at ${at}`).toBe(rec.start);
      }
    }
    // Had the last sync not happened yet (the sidecar one sync behind), the same damage in
    // the last batch would be a write cut short: cut and reported.
    const dir = copyFiles(crashedSynced, newDir());
    const last = records.at(-1)!;
    const damaged = Buffer.from(full);
    damaged[last.start + 14]! ^= 0x01;
    writeFileSync(join(dir, wal), damaged);
    writeFileSync(join(dir, `${wal}.synced`), syncedSidecar(last.start));
    const t = await open(dir);
    try {
      expect(t.recovery).toEqual({ replayed: 5, truncated: { file: join(dir, wal), offset: last.start, bytes: last.end - last.start } });
      expect(t.contains('p', 'k5')).toBe(false);
    } finally {
      await t.close();
    }
  });
});

describe('a genuine torn tail is still cut quietly', () => {
  it('a partial record after the last synced batch (a write cut short) is cut and reported exactly', async () => {
    const { dir, wal, full } = await acknowledged();
    appendFileSync(wal, full.subarray(16, 16 + 90));
    const s = await open(dir);
    try {
      expect(s.recovery).toEqual({ replayed: 20, truncated: { file: wal, offset: full.length, bytes: 90 } });
      expect(s.get('ack', 'k59')).toMatchObject({ b: 19, i: 2 });
      expect(s.seq).toBe(60);
    } finally {
      await s.close();
    }
  });

  it("a batch cut mid-write past the synced point ('periodic', not yet synced) is a torn tail at every cut", async () => {
    const live = newDir();
    // A long interval: batches are acknowledged (in the OS) but only the first is synced.
    const s = await open(live, { sync: 'periodic', syncIntervalMs: 60_000 });
    await s.put('early', 'k', 1);
    await s.compact(); // flushes: everything so far is in a segment
    await s.putMany([0, 1, 2].map((i) => ({ namespace: 'late', key: `k${i}`, value: 'y'.repeat(50) })));
    const crashed = copyFiles(live, newDir());
    await s.close();
    const wal = currentWal(crashed);
    const full = readFileSync(wal);
    const [rec] = parseWal(full);
    expect(rec!.end).toBe(full.length);
    for (let len = 17; len < full.length; len += 13) {
      const dir = copyFiles(crashed, newDir());
      writeFileSync(join(dir, basename(wal)), full.subarray(0, len));
      const t = await open(dir);
      try {
        expect(t.recovery).toEqual({ replayed: 0, truncated: { file: join(dir, basename(wal)), offset: 16, bytes: len - 16 } });
        expect(t.contains('late', 'k0')).toBe(false);
        expect(t.get('early', 'k')).toBe(1);
      } finally {
        await t.close();
      }
    }
  });
});

describe('repair', () => {
  it('keeps the batches before the damage, saves the damaged file aside and reports what it dropped', async () => {
    const { dir, wal, full } = await acknowledged();
    const records = parseWal(full);
    // Batch 10 damaged: batches 0-9 survive, 10-19 (30 keys) do not.
    const hit = records[10]!;
    const damaged = Buffer.from(full);
    damaged[hit.start + 25]! ^= 0x04;
    writeFileSync(wal, damaged);
    const e = await refuses(dir, wal);
    expect(e.details).toMatchObject({ offset: hit.start, validEnd: hit.start, records: 9, bytes: full.length - hit.start });
    expect(e.message).toMatch(/9 readable batches/);

    const s = await open(dir, { repair: true });
    const [r] = s.recovery.repaired ?? [];
    try {
      expect(s.recovery.repaired).toHaveLength(1);
      expect(r).toMatchObject({ file: wal, offset: hit.start, bytes: full.length - hit.start, records: 9 });
      expect(r!.message).toContain('saved the damaged file');
      expect(readFileSync(r!.savedAs!).equals(damaged)).toBe(true);
      expect(s.recovery.replayed).toBe(10);
      expect(s.get('ack', 'k29')).toMatchObject({ b: 9 });
      expect(s.contains('ack', 'k30')).toBe(false);
      expect(s.seq).toBe(30);
      expect((await s.verify()).ok).toBe(true);
      await s.put('ack', 'after', 'repair');
    } finally {
      await s.close();
    }
    // Opens normally afterwards; the saved copy is left alone.
    const t = await open(dir);
    try {
      expect(t.recovery).toEqual({ replayed: 0 });
      expect(t.get('ack', 'after')).toBe('repair');
    } finally {
      await t.close();
    }
    expect(r0(dir)).toBe(r!.savedAs);
  });

  it('accepts a cut log, reporting the synced bytes that are gone', async () => {
    const { dir, wal, full } = await acknowledged();
    const records = parseWal(full);
    writeFileSync(wal, full.subarray(0, records[15]!.start + 10));
    const s = await open(dir, { repair: true });
    try {
      expect(s.recovery.replayed).toBe(15);
      expect(s.recovery.repaired).toMatchObject([{ file: wal, offset: records[15]!.start, bytes: full.length - records[15]!.start, records: 0 }]);
    } finally {
      await s.close();
    }
    const t = await open(dir);
    expect(t.recovery).toEqual({ replayed: 0 });
    expect(t.seq).toBe(45);
    await t.close();
  });
});

/** The one `.damaged-` copy in `dir`. */
function r0(dir: string): string {
  const saved = readdirSync(dir).filter((f) => f.includes('.damaged-'));
  expect(saved).toHaveLength(1);
  return join(dir, saved[0]!);
}

describe('files the database depends on', () => {
  it('a deleted segment refuses to open, naming it, with or without repair, and nothing is removed', async () => {
    const dir = newDir();
    const s = await open(dir);
    await s.put('c', 'before', 1);
    await s.compact();
    await s.put('c', 'after', 2);
    await s.close();
    const segs = filesOf(dir, '.kseg');
    expect(segs).toHaveLength(2);
    rmSync(join(dir, segs[0]!));
    const e = await refuses(dir, join(dir, segs[0]!));
    expect(e.message).toMatch(/is missing/);
    expect(await rejection(open(dir, { repair: true }))).toMatchObject({ code: ErrorCodes.CORRUPTION });
    expect(filesOf(dir, '.kseg')).toEqual(segs.slice(1));
  });

  it('a flipped bit anywhere in the manifest refuses to open with CORRUPTION naming it', async () => {
    const dir = newDir();
    const s = await open(dir);
    await s.put('m', 'k', 1);
    await s.close();
    const manifest = readFileSync(join(dir, 'MANIFEST'));
    for (let at = 0; at < manifest.length; at += Math.max(1, Math.floor(manifest.length / 40))) {
      const damaged = Buffer.from(manifest);
      damaged[at]! ^= 1 << at % 8;
      writeFileSync(join(dir, 'MANIFEST'), damaged);
      const e = await refuses(dir, join(dir, 'MANIFEST'));
      expect(typeof e.details?.offset, `flip at ${at}`).toBe('number');
    }
  });

  // Product bug (see the report): with MANIFEST gone, tree-recovery.ts treats every segment
  // as a flush that never installed and deletes it, so the database opens empty.
  it('a deleted manifest refuses to open (CORRUPTION naming it) rather than dropping every segment', async () => {
    const dir = newDir();
    const s = await open(dir);
    await s.put('m', 'k', 1);
    await s.close();
    const segs = filesOf(dir, '.kseg');
    expect(segs).toHaveLength(1);
    rmSync(join(dir, 'MANIFEST'));
    // Today it opens, empty, after deleting the segment: the first check fails.
    const outcome = await open(dir).then(
      async (t) => {
        const seq = t.seq;
        await t.close();
        return { opened: true, seq };
      },
      (e: Failure) => e,
    );
    expect(filesOf(dir, '.kseg')).toEqual(segs);
    expect(outcome).toMatchObject({ code: ErrorCodes.CORRUPTION, message: expect.stringContaining('MANIFEST') });
  });

  // Product bug (see the report): tree-recovery.ts lists only the logs present and deletes a
  // sidecar whose log is gone as a leftover, so the synced batches of a deleted log vanish silently.
  it('a deleted log whose records were synced refuses; repair starts it empty and says so', async () => {
    const { dir, wal } = await acknowledged();
    rmSync(wal);
    const e = await refuses(dir, wal);
    expect(e.message).toMatch(/is missing/);
    expect(e.details?.missingBytes).toBeGreaterThan(16);
    const s = await open(dir, { repair: true });
    expect(s.recovery.repaired).toMatchObject([{ file: wal, offset: 0 }]);
    expect(s.seq).toBe(0);
    await s.close();
  });

  it('a damaged synced-point sidecar refuses, naming it; repair ignores it', async () => {
    const { dir, wal } = await acknowledged();
    const sidecar = `${wal}.synced`;
    const bytes = readFileSync(sidecar);
    expect(bytes.length % 16).toBe(0);
    bytes[bytes.length - 10]! ^= 0x01;
    writeFileSync(sidecar, bytes);
    await refuses(dir, sidecar);
    const s = await open(dir, { repair: true });
    expect(s.recovery).toMatchObject({ replayed: 20, repaired: [{ file: sidecar }] });
    expect(s.seq).toBe(60);
    await s.close();
  });
});

describe('the node id', () => {
  it('is checksummed: a damaged or missing NODE of a database with data refuses; repair starts a new id and says so', async () => {
    const dir = newDir();
    const s = await open(dir);
    const id = s.nodeId;
    const v1 = await s.put('n', 'k', 1);
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
    try {
      expect(r.nodeId).not.toBe(id);
      expect(r.nodeId).toMatch(/^[0-9a-f]{16}$/);
      expect(r.recovery.repaired).toMatchObject([{ file: join(dir, 'NODE'), offset: 0 }]);
      expect(r.recovery.repaired![0]!.message).toContain(r.nodeId);
      // The old node's versions are still there, and the new node's chain onto them.
      expect(r.getVersion('n', 'k')).toEqual(v1);
      expect(await r.put('n', 'k', 2)).toMatchObject({ node: r.nodeId, previousVersion: v1.versionId });
    } finally {
      await r.close();
    }
    const newId = readFileSync(join(dir, 'NODE'), 'latin1').split(' ')[0]!;
    expect(readFileSync(join(dir, 'NODE'), 'latin1')).toBe(`${newId} ${crc32(Buffer.from(newId))}\n`);
    const t = await open(dir);
    expect(t.nodeId).toBe(newId);
    expect(t.recovery).toEqual({ replayed: 0 });
    await t.close();
  });

  it('a new directory gets a new NODE without any report', async () => {
    const dir = newDir();
    const s = await open(dir);
    expect(s.recovery).toEqual({ replayed: 0 });
    expect(readFileSync(join(dir, 'NODE'), 'latin1')).toBe(`${s.nodeId} ${crc32(Buffer.from(s.nodeId))}\n`);
    await s.close();
  });

  it('a NODE without checksum (the previous layout) is read as the id', async () => {
    const dir = newDir();
    const s = await open(dir);
    const id = s.nodeId;
    await s.put('n', 'k', 1);
    await s.close();
    writeFileSync(join(dir, 'NODE'), id);
    const t = await open(dir);
    try {
      expect(t.nodeId).toBe(id);
      expect(t.recovery).toEqual({ replayed: 0 });
      expect(t.get('n', 'k')).toBe(1);
    } finally {
      await t.close();
    }
  });

  // Product bug (see the report): node-id.ts says a NODE of the previous layout "is read and
  // rewritten with its checksum", but FileAdapter#open ignores `legacy` and never rewrites it.
  it('a NODE without checksum is rewritten with its checksum on open', async () => {
    const dir = newDir();
    const s = await open(dir);
    const id = s.nodeId;
    await s.close();
    writeFileSync(join(dir, 'NODE'), id);
    const t = await open(dir);
    await t.close();
    expect(readFileSync(join(dir, 'NODE'), 'latin1')).toBe(`${id} ${crc32(Buffer.from(id))}\n`);
  });
});

describe('a failed open', () => {
  it('releases the lock, every descriptor and every thread: a retry in the same process gets CORRUPTION again', async () => {
    const { dir, wal, full } = await acknowledged();
    writeFileSync(wal, full.subarray(0, full.length - 3));
    // Descriptors and threads (a worker thread left running would show as a task).
    const fds = () => readdirSync('/proc/self/fd').length + readdirSync('/proc/self/task').length;
    const before = fds();
    for (let i = 0; i < 3; i++) await refuses(dir, wal);
    expect(fds()).toBeLessThanOrEqual(before);
    // A database whose segment is damaged fails later (while the store reads its last change): released the same way.
    writeFileSync(wal, full);
    const t = await open(dir);
    await t.compact();
    await t.close();
    const seg = join(dir, filesOf(dir, '.kseg').at(-1)!);
    const bytes = readFileSync(seg);
    const { footer } = parseSegment(bytes);
    bytes[footer.offset + 3]! ^= 0x01;
    writeFileSync(seg, bytes);
    const fdsBefore = fds();
    for (let i = 0; i < 3; i++) await refuses(dir, seg);
    expect(fds()).toBeLessThanOrEqual(fdsBefore);
    expect(existsSync(join(dir, 'LOCK'))).toBe(false);
    expect(statSync(seg).size).toBe(bytes.length);
  });
});
