// Disk faults: injected FileOps make writes and syncs fail at chosen moments (always
// run); a real full tmpfs checks the same against the kernel when mounting is allowed.
import { ErrorCodes } from '@koru/engine';
import { CausalStorage, type CommitEntry, type SnapshotSource, type StorageAdapter, type Version } from '@koru/storage';
import { FileAdapter, nodeFileOps, type FileAdapterOptions, type FileOps } from '@koru/storage/node';
import { tempDir } from '@koru/vitest-preset/helpers';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dataFiles, rejection } from './disk-helpers.js';

const LOG0 = 'log-000000.kdl';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function newDir(): string {
  const { dir, cleanup } = tempDir('koru-faults-');
  cleanups.push(cleanup);
  return dir;
}

function errno(code: string, syscall: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected failure, ${syscall}`), { code, syscall });
}

/** node:fs with switchable failures. */
class FaultyOps implements FileOps {
  /**
   * When set, writes succeed for `budget` more bytes (short writes), then throw `code`;
   * with `path`, only writes to files whose path matches.
   */
  writeFault: { code: string; budget: number; path?: RegExp } | null = null;
  syncFault: string | null = null;
  truncateFault: string | null = null;
  writeCalls = 0;
  readonly #paths = new Map<number, string>();

  openSync(path: string, flags: string): number {
    const fd = nodeFileOps.openSync(path, flags);
    this.#paths.set(fd, path);
    return fd;
  }
  closeSync(fd: number): void {
    nodeFileOps.closeSync(fd);
  }
  writeSync(fd: number, buf: Uint8Array, offset: number, length: number, position: number): number {
    this.writeCalls++;
    const f = this.writeFault;
    if (f === null || (f.path !== undefined && !f.path.test(this.#paths.get(fd) ?? ''))) {
      return nodeFileOps.writeSync(fd, buf, offset, length, position);
    }
    if (f.budget <= 0) throw errno(f.code, 'write');
    const n = nodeFileOps.writeSync(fd, buf, offset, Math.min(length, f.budget), position);
    f.budget -= n;
    return n;
  }
  readSync(fd: number, buf: Uint8Array, offset: number, length: number, position: number): number {
    return nodeFileOps.readSync(fd, buf, offset, length, position);
  }
  fdatasyncSync(fd: number): void {
    if (this.syncFault !== null) throw errno(this.syncFault, 'fdatasync');
    nodeFileOps.fdatasyncSync(fd);
  }
  fsyncSync(fd: number): void {
    if (this.syncFault !== null) throw errno(this.syncFault, 'fsync');
    nodeFileOps.fsyncSync(fd);
  }
  ftruncateSync(fd: number, len: number): void {
    if (this.truncateFault !== null) throw errno(this.truncateFault, 'ftruncate');
    nodeFileOps.ftruncateSync(fd, len);
  }
  fstatSync(fd: number): { size: number } {
    return nodeFileOps.fstatSync(fd);
  }
  renameSync(from: string, to: string): void {
    nodeFileOps.renameSync(from, to);
  }
  unlinkSync(path: string): void {
    nodeFileOps.unlinkSync(path);
  }
}

async function openFaulty(dir: string, options: FileAdapterOptions = {}): Promise<{ s: CausalStorage; ops: FaultyOps }> {
  const ops = new FaultyOps();
  const s = await CausalStorage.open({ adapter: new FileAdapter(dir, { ...options, fileOps: ops }) });
  return { s, ops };
}

const logSize = (dir: string) => statSync(join(dir, LOG0)).size;

/** Reopens with plain node:fs and returns every version of `keys`. */
async function reopenedHistories(dir: string, keys: string[]): Promise<Record<string, unknown[] | null>> {
  const s = await CausalStorage.open({ adapter: new FileAdapter(dir) });
  try {
    expect(s.recovery.truncated).toBeUndefined();
    expect((await s.verify()).ok).toBe(true);
    const out: Record<string, unknown[] | null> = {};
    for (const k of keys) out[k] = historyOrNull(s, k);
    return out;
  } finally {
    await s.close();
  }
}

function historyOrNull(s: CausalStorage, k: string): unknown[] | null {
  try {
    return s.history('f', k).map((v) => v.value);
  } catch (e) {
    if ((e as { code?: string }).code === ErrorCodes.KEY_NOT_FOUND) return null;
    throw e;
  }
}

describe('ENOSPC from an injected FileOps', () => {
  for (const [label, budget] of [
    ['before any byte', 0],
    ['after part of the batch', 37],
  ] as const) {
    it(`a full disk (${label}) rejects the batch with STORAGE_FULL, stores nothing, and recovers when space returns`, async () => {
      const dir = newDir();
      const { s, ops } = await openFaulty(dir);
      try {
        const v1 = await s.put('f', 'k', 'acknowledged 1');
        await s.put('f', 'other', 'acknowledged 2');
        const statsBefore = s.stats();
        const sizeBefore = logSize(dir);

        ops.writeFault = { code: 'ENOSPC', budget };
        // Three writes in one tick: one batch, all rejected together.
        const results = await Promise.allSettled([
          s.put('f', 'k', 'lost 1'),
          s.put('f', 'new', { big: 'x'.repeat(500) }),
          s.putMany([
            { namespace: 'f', key: 'other', value: 'lost 3' },
            { namespace: 'f', key: 'new2', value: 'lost 4' },
          ]),
        ]);
        for (const r of results) {
          expect(r.status).toBe('rejected');
          const e = (r as PromiseRejectedResult).reason as { code: string; message: string; cause?: { code?: string } };
          expect(e.code).toBe(ErrorCodes.STORAGE_FULL);
          expect(e.message).toMatch(/full/);
          expect(e.cause?.code).toBe('ENOSPC');
        }
        // Nothing of the batch is visible, and the log was cut back to the acknowledged end.
        expect(s.get('f', 'k')).toBe('acknowledged 1');
        expect(s.contains('f', 'new')).toBe(false);
        expect(s.contains('f', 'new2')).toBe(false);
        expect(s.get('f', 'other')).toBe('acknowledged 2');
        expect(s.stats()).toEqual(statsBefore);
        expect(logSize(dir)).toBe(sizeBefore);
        if (budget > 0) expect(ops.writeFault.budget).toBe(0); // the partial write did happen

        // Still full: the next write fails the same way.
        expect(await rejection(s.put('f', 'k', 'lost 5'))).toMatchObject({ code: ErrorCodes.STORAGE_FULL });

        ops.writeFault = null;
        const v2 = await s.put('f', 'k', 'acknowledged 3');
        expect(v2.previousVersion).toBe(v1.versionId);
        expect(s.stats().seq).toBe(statsBefore.seq + 1);
        expect(s.history('f', 'k').map((v) => v.value)).toEqual(['acknowledged 1', 'acknowledged 3']);
      } finally {
        await s.close();
      }
      expect(await reopenedHistories(dir, ['k', 'other', 'new', 'new2'])).toEqual({
        k: ['acknowledged 1', 'acknowledged 3'],
        other: ['acknowledged 2'],
        new: null,
        new2: null,
      });
    });
  }

  it('writes queued behind a failing batch are rejected too, and never reach the disk', async () => {
    const dir = newDir();
    const ops = new FaultyOps();
    const inner = new FileAdapter(dir, { fileOps: ops });
    let open!: () => void;
    let gate: Promise<void> = Promise.resolve();
    let appends = 0;
    // Holds each append until the gate opens, so later writes queue up behind it.
    const gated: StorageAdapter = {
      name: inner.name,
      synchronous: false,
      open: () => inner.open(),
      append: (entries: readonly CommitEntry[]) =>
        gate.then(() => {
          appends++;
          inner.append(entries);
        }),
      readValue: (loc, len) => inner.readValue(loc, len),
      readValueText: (loc, len) => inner.readValueText(loc, len),
      diskBytes: () => inner.diskBytes(),
      wantsSnapshot: () => inner.wantsSnapshot(),
      snapshot: (src: SnapshotSource) => inner.snapshot(src),
      close: () => inner.close(),
    };
    const s = await CausalStorage.open({ adapter: gated });
    let v1: Version;
    try {
      v1 = await s.put('f', 'k', 'acknowledged');
      gate = new Promise<void>((resolve) => (open = resolve));
      const first = s.put('f', 'k', 'in flight');
      await new Promise((r) => setImmediate(r)); // the flush took `first` and waits on the gate
      const behind = [s.put('f', 'k', 'queued, chained on the failing write'), s.put('f', 'x', 'queued, unrelated key')];
      const del = s.delete('f', 'k'); // sees the queued put as the head
      ops.writeFault = { code: 'ENOSPC', budget: 10 };
      open();
      for (const p of [first, ...behind, del]) expect(await rejection(p)).toMatchObject({ code: ErrorCodes.STORAGE_FULL });
      expect(appends).toBe(2); // the first put, and the failing batch; nothing after it
      expect(s.history('f', 'k').map((v) => v.value)).toEqual(['acknowledged']);
      expect(s.contains('f', 'x')).toBe(false);

      ops.writeFault = null;
      gate = Promise.resolve();
      const v2 = await s.put('f', 'k', 'after the fault');
      expect(v2.previousVersion).toBe(v1.versionId);
      expect(await s.delete('f', 'k')).toMatchObject({ deleted: true, previousVersion: v2.versionId });
    } finally {
      await s.close();
    }
    expect(await reopenedHistories(dir, ['k', 'x'])).toEqual({ k: ['acknowledged', 'after the fault', null], x: null });
  });

  it('when the log cannot be cut back either, the adapter refuses further writes; reopening recovers', async () => {
    const dir = newDir();
    const { s, ops } = await openFaulty(dir);
    try {
      await s.put('f', 'k', 'acknowledged');
      ops.writeFault = { code: 'ENOSPC', budget: 20 };
      ops.truncateFault = 'EIO';
      expect(await rejection(s.put('f', 'k', 'lost'))).toMatchObject({ code: ErrorCodes.STORAGE_FULL });
      ops.writeFault = null;
      ops.truncateFault = null;
      // The partial record is still on disk, so writing after it would be unsafe.
      const e = await rejection(s.put('f', 'k', 'refused'));
      expect(e.code).toBe(ErrorCodes.IO_ERROR);
      expect(e.message).toMatch(/reopen/);
      expect(s.get('f', 'k')).toBe('acknowledged');
    } finally {
      await s.close();
    }
    const t = await CausalStorage.open({ adapter: new FileAdapter(dir) });
    try {
      expect(t.recovery.truncated).toMatchObject({ file: join(dir, LOG0), bytes: 20 });
      expect(t.history('f', 'k').map((v) => v.value)).toEqual(['acknowledged']);
      await t.put('f', 'k', 'after reopen');
    } finally {
      await t.close();
    }
    expect(await reopenedHistories(dir, ['k'])).toEqual({ k: ['acknowledged', 'after reopen'] });
  });
});

describe('snapshot failures', () => {
  it('an automatic snapshot that hits a full disk neither rejects anything nor loses a write', async () => {
    const dir = newDir();
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    cleanups.push(() => void process.off('unhandledRejection', onUnhandled));
    const { s, ops } = await openFaulty(dir, { snapshotAfterBytes: 1000 });
    try {
      ops.writeFault = { code: 'ENOSPC', budget: 100, path: /\.kds\.tmp$/ };
      for (let i = 0; i < 10; i++) await s.put('f', `k${i}`, `${i}:${'x'.repeat(200)}`);
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
      expect(dataFiles(dir)).toEqual(['LOCK', 'NODE', LOG0]);
      // Once there is room, the next flush takes the snapshot.
      ops.writeFault = null;
      await s.put('f', 'k10', 'after');
      expect(dataFiles(dir)).toEqual(['LOCK', 'NODE', 'log-000001.kdl', 'snapshot-000001.kds']);
      expect(s.listKeys('f')).toHaveLength(11);
    } finally {
      await s.close();
    }
    const t = await CausalStorage.open({ adapter: new FileAdapter(dir) });
    expect(t.listKeys('f')).toHaveLength(11);
    expect(t.get('f', 'k3')).toBe(`3:${'x'.repeat(200)}`);
    await t.close();
  });

  it('a compaction whose new log cannot be started refuses later writes instead of losing them', async () => {
    const dir = newDir();
    const { s, ops } = await openFaulty(dir);
    try {
      await s.put('f', 'a', 1);
      await s.put('f', 'b', 2);
      // The snapshot is written and renamed into place; the next log's header is not.
      ops.writeFault = { code: 'ENOSPC', budget: 5, path: /log-000001\.kdl$/ };
      const e = await rejection(s.compact());
      expect(e.code).toBe(ErrorCodes.STORAGE_FULL);
      expect(e.message).toMatch(/reopen/);
      ops.writeFault = null;
      // The next open loads the new snapshot and drops the old log: a write taken into
      // the old log now would be lost, so it is refused.
      expect(await rejection(s.put('f', 'c', 3))).toMatchObject({ code: ErrorCodes.STORAGE_FULL });
      expect(s.get('f', 'a')).toBe(1);
      expect(s.history('f', 'b').map((v) => v.value)).toEqual([2]);
    } finally {
      await s.close();
    }
    const t = await CausalStorage.open({ adapter: new FileAdapter(dir) });
    try {
      expect(t.recovery.fromSnapshot).toBe(2);
      expect(t.listKeys('f')).toEqual(['a', 'b']);
      await t.put('f', 'd', 4);
    } finally {
      await t.close();
    }
    expect(dataFiles(dir)).toEqual(['NODE', 'log-000001.kdl', 'snapshot-000001.kds']);
    expect(await reopenedHistories(dir, ['a', 'b', 'c', 'd'])).toEqual({ a: [1], b: [2], c: null, d: [4] });
  });
});

describe('fdatasync failures', () => {
  it("sync 'always': a failed fdatasync rejects the put, which is never visible nor replayed", async () => {
    const dir = newDir();
    const { s, ops } = await openFaulty(dir, { sync: 'always' });
    try {
      const v1 = await s.put('f', 'k', 'acknowledged');
      const size = logSize(dir);
      ops.syncFault = 'EIO';
      const results = await Promise.allSettled([s.put('f', 'k', 'lost'), s.put('f', 'n', 'lost too')]);
      for (const r of results) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: ErrorCodes.IO_ERROR });
      expect(s.get('f', 'k')).toBe('acknowledged');
      expect(s.contains('f', 'n')).toBe(false);
      expect(logSize(dir)).toBe(size);
      ops.syncFault = 'ENOSPC';
      expect(await rejection(s.put('f', 'k', 'lost'))).toMatchObject({ code: ErrorCodes.STORAGE_FULL });
      ops.syncFault = null;
      expect((await s.put('f', 'k', 'synced')).previousVersion).toBe(v1.versionId);
    } finally {
      await s.close();
    }
    expect(await reopenedHistories(dir, ['k', 'n'])).toEqual({ k: ['acknowledged', 'synced'], n: null });
  });

  it("sync 'periodic': a failed background fdatasync makes later writes fail with IO_ERROR", async () => {
    const dir = newDir();
    const { s, ops } = await openFaulty(dir, { sync: 'periodic', syncIntervalMs: 1 });
    try {
      await s.put('f', 'k', 'acknowledged');
      ops.syncFault = 'EIO';
      await new Promise((r) => setTimeout(r, 30));
      const e = await rejection(s.put('f', 'k', 'refused'));
      expect(e.code).toBe(ErrorCodes.IO_ERROR);
      expect(e.message).toMatch(/fdatasync/);
      ops.syncFault = null;
    } finally {
      await s.close();
    }
    expect(await reopenedHistories(dir, ['k'])).toEqual({ k: ['acknowledged'] });
  });
});

describe('a real full file system (tmpfs)', () => {
  it('ENOSPC from the kernel: STORAGE_FULL, nothing partial stored, writes resume once space is freed', async (ctx) => {
    const mnt = newDir();
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', mnt], { stdio: 'pipe' });
    } catch (e) {
      console.log(`[faults] skipping the real-ENOSPC case: cannot mount a tmpfs here (${String((e as Error).message).trim()})`);
      ctx.skip();
      return;
    }
    cleanups.push(() => {
      execFileSync('umount', [mnt]);
    });
    const dir = join(mnt, 'db');
    mkdirSync(dir);
    // Room to free later.
    writeFileSync(join(mnt, 'ballast'), Buffer.alloc(64 * 1024, 1));
    const s = await CausalStorage.open({ adapter: new FileAdapter(dir) });
    const acked: string[] = [];
    let failure: { code?: string } | undefined;
    try {
      for (let i = 0; i < 200 && failure === undefined; i++) {
        try {
          // Distinct values, so every write needs new space.
          await s.put('f', `k${i}`, `${i}:${'v'.repeat(7000)}`);
          acked.push(`k${i}`);
        } catch (e) {
          failure = e as { code?: string };
        }
      }
      expect(failure).toMatchObject({ code: ErrorCodes.STORAGE_FULL });
      expect(acked.length).toBeGreaterThan(10);
      const failedKey = `k${acked.length}`;
      expect(s.contains('f', failedKey)).toBe(false);
      const records = readFileSync(join(dir, LOG0));
      expect(records.length).toBe(s.stats().diskBytes);

      rmSync(join(mnt, 'ballast'));
      await s.put('f', failedKey, 'fits now');
      acked.push(failedKey);
    } finally {
      await s.close();
    }
    const t = await CausalStorage.open({ adapter: new FileAdapter(dir) });
    try {
      expect(t.recovery.truncated).toBeUndefined();
      expect(t.listKeys('f')).toEqual([...acked].sort());
      expect(t.get('f', acked.at(-1)!)).toBe('fits now');
      expect(t.get('f', 'k0')).toBe(`0:${'v'.repeat(7000)}`);
      expect(await t.verify()).toMatchObject({ ok: true, versions: acked.length });
    } finally {
      await t.close();
    }
  });
});
