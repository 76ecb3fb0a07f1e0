// The periodic log sync off the event loop: NodeFile.syncInBackground (libuv's
// fdatasync), WalWriter.syncInBackground (the synced point it records is the end at the
// call), and the tree's sync timer (it runs one at a time and comes back for what was
// written meanwhile). An injected fdatasync is held until the test lets it finish.
import { ErrorCodes } from '@koru/engine';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { LsmTree } from '../src/lsm/lsm-tree.js';
import { InlineMergeRunner } from '../src/lsm/merge-runner.js';
import { KIND_PUT, type Entry } from '../src/lsm/types.js';
import { WalWriter } from '../src/lsm/wal.js';
import { nodeFileOps, type FileOps } from '../src/node/fs-ops.js';
import { NodeDirectory } from '../src/node/node-directory.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function newDir(): string {
  const { dir, cleanup } = tempDir('koru-bg-sync-');
  cleanups.push(cleanup);
  return dir;
}

/** node:fs, with each background fdatasync held until {@link release} (and closes recorded). */
class HeldSyncOps implements FileOps {
  readonly held: Array<{ fd: number; done: (e: NodeJS.ErrnoException | null) => void }> = [];
  readonly closed: number[] = [];
  openSync = nodeFileOps.openSync;
  writeSync = nodeFileOps.writeSync;
  readSync = nodeFileOps.readSync;
  fdatasyncSync = nodeFileOps.fdatasyncSync;
  fsyncSync = nodeFileOps.fsyncSync;
  ftruncateSync = nodeFileOps.ftruncateSync;
  fstatSync = nodeFileOps.fstatSync;
  renameSync = nodeFileOps.renameSync;
  unlinkSync = nodeFileOps.unlinkSync;
  closeSync(fd: number): void {
    this.closed.push(fd);
    nodeFileOps.closeSync(fd);
  }
  fdatasync(fd: number, done: (e: NodeJS.ErrnoException | null) => void): void {
    this.held.push({ fd, done });
  }
  /** Runs the oldest held sync for real (or fails it with `code`) and calls back. */
  release(code?: string): void {
    const h = this.held.shift();
    if (h === undefined) throw new Error('no sync is held');
    if (code !== undefined) return h.done(Object.assign(new Error(`${code}: fdatasync`), { code }));
    nodeFileOps.fdatasyncSync(h.fd);
    h.done(null);
  }
}

const entry = (key: string, value = 'v'): Entry => ({ key, kind: KIND_PUT, value: new TextEncoder().encode(value) });

describe('NodeFile.syncInBackground', () => {
  it('a close() while a sync is in flight keeps the descriptor until the sync settles', async () => {
    const ops = new HeldSyncOps();
    const f = new NodeDirectory(newDir(), ops).open('a', 'create');
    f.append(new Uint8Array([1, 2, 3]));
    const done = f.syncInBackground!();
    expect(ops.held).toHaveLength(1);
    f.close();
    expect(ops.closed).toEqual([]);
    ops.release();
    await done;
    expect(ops.closed).toEqual([ops.closed[0]]);
    expect(ops.closed).toHaveLength(1);
  });

  it('a failed fdatasync rejects with IO_ERROR naming the file', async () => {
    const ops = new HeldSyncOps();
    const f = new NodeDirectory(newDir(), ops).open('a', 'create');
    const done = f.syncInBackground!();
    ops.release('EIO');
    await expect(done).rejects.toMatchObject({ code: ErrorCodes.IO_ERROR, details: { file: 'a' } });
    f.close();
    expect(ops.closed).toHaveLength(1);
  });
});

describe('WalWriter.syncInBackground', () => {
  it('records the end at the call as synced once it settles; what was appended meanwhile stays unsynced', async () => {
    const ops = new HeldSyncOps();
    const w = WalWriter.create(new NodeDirectory(newDir(), ops), 1, { sync: 'periodic' });
    w.append([entry('a')]);
    expect(w.unsynced).toBe(true);
    const first = w.syncInBackground();
    expect(w.syncInBackground()).toBe(first); // one at a time
    w.append([entry('b')]);
    ops.release();
    await first;
    expect(w.unsynced).toBe(true);
    const second = w.syncInBackground();
    ops.release();
    await second;
    expect(w.unsynced).toBe(false);
    w.close();
  });

  it('a failed background sync breaks the writer: later appends are refused', async () => {
    const ops = new HeldSyncOps();
    const w = WalWriter.create(new NodeDirectory(newDir(), ops), 1, { sync: 'periodic' });
    w.append([entry('a')]);
    const p = w.syncInBackground();
    ops.release('EIO');
    await expect(p).rejects.toMatchObject({ code: ErrorCodes.IO_ERROR });
    expect(() => w.append([entry('b')])).toThrow(/sync of .* failed/);
    w.close();
  });
});

/** A tree syncing every 5 ms through held background syncs. */
function openHeldTree(): { ops: HeldSyncOps; tree: LsmTree } {
  const ops = new HeldSyncOps();
  const dir = new NodeDirectory(newDir(), ops);
  return { ops, tree: LsmTree.open({ dir, flushRunner: new InlineMergeRunner(dir), sync: 'periodic', syncIntervalMs: 5, autoMerge: false }) };
}

describe("the tree's periodic sync", () => {
  it('syncs off the event loop, one at a time, and comes back for writes made while one ran', async () => {
    const { ops, tree } = openHeldTree();
    try {
      tree.write([entry('a')]);
      await waitFor(() => ops.held.length === 1);
      tree.write([entry('b')]); // appended while the sync runs: not covered by it
      await new Promise((r) => setTimeout(r, 30));
      expect(ops.held).toHaveLength(1); // no second sync while one is in flight
      ops.release();
      await waitFor(() => ops.held.length === 1); // the timer came back for 'b'
      ops.release();
      await new Promise((r) => setTimeout(r, 30));
      expect(ops.held).toHaveLength(0); // nothing left to sync: no more timers
    } finally {
      while (ops.held.length > 0) ops.release();
      await tree.close();
    }
  });

  it('a failed background sync stops every later write', async () => {
    const { ops, tree } = openHeldTree();
    try {
      tree.write([entry('a')]);
      await waitFor(() => ops.held.length === 1);
      ops.release('EIO');
      await new Promise((r) => setTimeout(r, 10));
      expect(() => tree.write([entry('b')])).toThrow();
    } finally {
      await tree.close().catch(() => undefined);
    }
  });
});

/** Waits (bounded) until `ok()` holds. */
async function waitFor(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(ok()).toBe(true);
}
