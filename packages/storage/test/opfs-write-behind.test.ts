// OpfsDirectory's write-behind (src/browser/opfs-file.ts) over the in-memory OPFS of
// test/opfs-fake.ts: a segment's appends are held until sync (one write instead of one
// per append: each sync-access-handle call is an IPC in Chromium's off-the-record
// profiles) yet every read sees them; a log's appends reach the pool file at once, so an
// acknowledged put survives the worker dying right after (a process crash keeps what was
// written, flushed or not); a write-out refused by the quota is STORAGE_FULL at sync and
// the file says what it holds.
import { CausalStorage } from '@koru/storage';
import { BrowserAdapter, OpfsDirectory, POOL_HEADER_BYTES } from '@koru/storage/browser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WRITE_BEHIND_BYTES } from '../src/browser/opfs-file.js';
import { codeOf } from './conformance.js';
import { fakeOpfs, installFakeOpfs, type FakeDirectory } from './opfs-fake.js';

let root: FakeDirectory = fakeOpfs();
let restore: () => void;
beforeAll(() => {
  restore = installFakeOpfs(() => root);
});
afterAll(() => restore());

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const bytes = (s: string) => new TextEncoder().encode(s);

/** The length of the pool file holding `name` (header included), as the file system has it. */
function poolLength(at: FakeDirectory, path: string, name: string): number {
  let d = at;
  for (const p of ['koru', ...path.split('/')]) d = d.entries.get(p) as FakeDirectory;
  for (const fileName of d.entries.keys()) {
    const f = at.file(['koru', ...path.split('/')], fileName);
    if (f.length >= POOL_HEADER_BYTES && text(f.data.subarray(0, POOL_HEADER_BYTES))!.includes(name)) return f.length;
  }
  throw new Error(`no pool file holds ${name}`);
}

describe('OpfsDirectory write-behind', () => {
  it("a segment's appends are written by sync in one call; size() and every read (its own, another handle's, readAll) see them before", async () => {
    root = fakeOpfs();
    const d = await OpfsDirectory.open('wb/seg');
    const f = d.open('00000007.kseg', 'create');
    const before = root.faults.calls;
    let expected = '';
    for (let i = 0; i < 100; i++) {
      const chunk = `block ${i};`;
      expect(f.append(bytes(chunk))).toBe(expected.length);
      expected += chunk;
    }
    expect(root.faults.calls - before).toBe(0);
    expect(poolLength(root, 'wb/seg', '00000007.kseg')).toBe(POOL_HEADER_BYTES);
    expect(f.size()).toBe(expected.length);
    const reader = d.open('00000007.kseg', 'read');
    expect(text(reader.read(6, 4))).toBe('0;bl');
    expect(poolLength(root, 'wb/seg', '00000007.kseg')).toBe(POOL_HEADER_BYTES + expected.length);
    f.append(bytes('tail'));
    expected += 'tail';
    expect(text(d.readAll('00000007.kseg'))).toBe(expected);
    f.append(bytes('+more'));
    expected += '+more';
    expect(text(f.read(0, expected.length))).toBe(expected);
    f.append(bytes('!'));
    expected += '!';
    const beforeSync = root.faults.calls;
    f.sync();
    // One write, one flush.
    expect(root.faults.calls - beforeSync).toBe(2);
    expect(text(reader.read(0, 1_000))).toBe(expected);
    reader.close();
    f.close();
    await d.close();
  });

  it('appends past the buffer are written in order (a large one straight through); close writes the rest', async () => {
    root = fakeOpfs();
    const d = await OpfsDirectory.open('wb/large');
    const f = d.open('00000001.kseg', 'create');
    const parts = [new Uint8Array(1000).fill(1), new Uint8Array(WRITE_BEHIND_BYTES - 500).fill(2), new Uint8Array(WRITE_BEHIND_BYTES + 3).fill(3), new Uint8Array(10).fill(4)];
    let at = 0;
    for (const p of parts) {
      expect(f.append(p)).toBe(at);
      at += p.length;
    }
    f.close();
    const back = d.readAll('00000001.kseg')!;
    expect(back.length).toBe(at);
    let offset = 0;
    for (const p of parts) {
      // Each part is one repeated byte: compare its run (toEqual on megabytes is slow).
      const run = back.subarray(offset, offset + p.length);
      expect(run.every((b) => b === p[0]), `part at ${offset}`).toBe(true);
      offset += p.length;
    }
    expect(poolLength(root, 'wb/large', '00000001.kseg')).toBe(POOL_HEADER_BYTES + at);
    await d.close();
  });

  it("a log's appends reach the pool file at once (no write-behind)", async () => {
    root = fakeOpfs();
    const d = await OpfsDirectory.open('wb/log');
    const f = d.open('00000002.kwal', 'create');
    const before = root.faults.calls;
    f.append(bytes('record one'));
    expect(root.faults.calls - before).toBe(1);
    expect(poolLength(root, 'wb/log', '00000002.kwal')).toBe(POOL_HEADER_BYTES + 10);
    f.close();
    await d.close();
  });

  it('a write-out refused by the quota is STORAGE_FULL at sync; the file then holds (and says) only what was written', async () => {
    root = fakeOpfs();
    const d = await OpfsDirectory.open('wb/full');
    const f = d.open('00000003.kseg', 'create');
    f.append(bytes('first'));
    f.sync();
    f.append(bytes('second'));
    root.faults.name = 'QuotaExceededError';
    root.faults.failIn = 1;
    expect(codeOf(() => f.sync())).toBe('STORAGE_FULL');
    expect(f.size()).toBe(5);
    expect(text(f.read(0, 100))).toBe('first');
    expect(text(d.readAll('00000003.kseg'))).toBe('first');
    f.close();
    await d.close();
  });

  for (const memtableBytes of [undefined, 4096]) {
    it(`every put acknowledged under the default (periodic) sync survives a crash of the worker right after: its log append reached the file (memtable ${memtableBytes ?? 'default'}${memtableBytes !== undefined ? ', flushed to segments on the way' : ''})`, async () => {
      root = fakeOpfs();
      const s = await CausalStorage.open({ adapter: new BrowserAdapter(await OpfsDirectory.open('wb/ack'), { ...(memtableBytes !== undefined ? { memtableBytes } : {}), syncIntervalMs: 60_000 }) });
      const acknowledged: number[] = [];
      for (let i = 0; i < 400; i++) {
        await s.put('ns', `k${i}`, { i, pad: 'x'.repeat(40) });
        acknowledged.push(i);
      }
      const many = await s.putMany(Array.from({ length: 200 }, (_, j) => ({ namespace: 'ns', key: `m${j}`, value: { j } })));
      expect(many).toHaveLength(200);
      await s.put('ns', 'last', 1);
      // The worker dies: nothing more runs (no close, no timer); the file system keeps
      // every write made, flushed or not (the browser, not the worker, holds them).
      root = root.crash({ failIn: undefined, name: 'InvalidStateError', calls: 0 }, 2 * root.maxPending());
      const back = await CausalStorage.open({ adapter: new BrowserAdapter(await OpfsDirectory.open('wb/ack')) });
      for (const i of acknowledged) expect(back.get('ns', `k${i}`), `put ${i} lost`).toEqual({ i, pad: 'x'.repeat(40) });
      for (let j = 0; j < 200; j++) expect(back.get('ns', `m${j}`)).toEqual({ j });
      expect(back.get('ns', 'last')).toBe(1);
      expect((await back.verify()).ok).toBe(true);
      await back.close();
      await s.close().catch(() => undefined);
    });
  }
});
