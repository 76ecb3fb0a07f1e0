// OpfsDirectory (the access-handle pool) over an in-memory OPFS (test/opfs-fake.ts):
// the storage conformance suite through BrowserAdapter, writeAtomic cut by a power loss
// after every step, a CausalStorage cut by a power loss at many points (every
// acknowledged write survives), exclusive handles, quota failures, files removed while
// open, damaged headers, bad paths. The same code runs in Chromium in
// tooling/browser-test/test/storage-opfs.test.mjs.
import { CausalStorage } from '@koru/storage';
import { BrowserAdapter, decodePoolHeader, encodePoolHeader, OpfsDirectory, POOL_HEADER_BYTES } from '@koru/storage/browser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, rejectionCode, runStorageConformance } from './conformance.js';
import { fakeOpfs, installFakeOpfs, type FakeDirectory } from './opfs-fake.js';

let root: FakeDirectory = fakeOpfs();
let restore: () => void;
beforeAll(() => {
  restore = installFakeOpfs(() => root);
});
afterAll(() => restore());

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const bytes = (s: string) => new TextEncoder().encode(s);

let n = 0;
runStorageConformance('BrowserAdapter over OpfsDirectory (fake OPFS)', async (options = {}) => {
  const path = `conf/${n++}`;
  const open = async () => CausalStorage.open({ ...options, adapter: new BrowserAdapter(await OpfsDirectory.open(path), { syncIntervalMs: 5 }) });
  let current = await open();
  return {
    adapter: 'opfs',
    storage: current,
    reopen: async () => {
      await current.close();
      current = await open();
      return current;
    },
    dispose: () => current.close(),
  };
});

describe('OpfsDirectory', () => {
  it('pool headers: round trip; a torn or foreign header is a free slot', () => {
    const h = encodePoolHeader('00000012.kseg', 2 ** 40 + 5);
    expect(h.length).toBe(POOL_HEADER_BYTES);
    expect(decodePoolHeader(h)).toEqual({ name: '00000012.kseg', generation: 2 ** 40 + 5 });
    for (const at of [0, 5, 7, 9, 20, POOL_HEADER_BYTES - 1]) {
      const torn = h.slice();
      torn[at]! ^= 0x10;
      expect(decodePoolHeader(torn), `byte ${at}`).toBeUndefined();
    }
    expect(decodePoolHeader(new Uint8Array(POOL_HEADER_BYTES))).toBeUndefined();
    expect(decodePoolHeader(h.subarray(0, 100))).toBeUndefined();
    expect(() => encodePoolHeader('', 1)).toThrow(RangeError);
  });

  it('writeAtomic cut by a power loss after any step leaves the old file or the new one, and the new one once it returned', async () => {
    let cuts = 0;
    for (let k = 1; ; k++) {
      root = fakeOpfs();
      const d = await OpfsDirectory.open('atomic');
      d.writeAtomic('X', bytes('old'));
      d.writeAtomic('Y', bytes('other'));
      root.faults.failIn = k;
      root.faults.sticky = true;
      let returned = false;
      try {
        d.writeAtomic('X', bytes('new!'));
        returned = true;
      } catch (e) {
        expect((e as { code?: string }).code).toBe('IO_ERROR');
      }
      root = root.crash({ failIn: undefined, name: 'InvalidStateError', calls: 0 });
      const after = await OpfsDirectory.open('atomic');
      const x = text(after.readAll('X'));
      expect(['old', 'new!']).toContain(x);
      if (returned) expect(x).toBe('new!');
      expect(text(after.readAll('Y'))).toBe('other');
      expect(after.list()).toEqual(['X', 'Y']);
      await after.close();
      if (returned) break;
      cuts++;
    }
    // Content, flush, header, flush, and freeing the old slot: each cut once.
    expect(cuts).toBeGreaterThanOrEqual(4);
  });

  it('create and remove cut by a power loss after any step: the file is absent or whole (empty when created), never another file', async () => {
    for (const op of ['create', 'remove'] as const) {
      for (let k = 1; ; k++) {
        root = fakeOpfs();
        const d = await OpfsDirectory.open('steps');
        d.writeAtomic('keep', bytes('kept'));
        if (op === 'remove') {
          const f = d.open('victim', 'create');
          f.append(bytes('victim bytes'));
          f.sync();
          f.close();
        } else {
          // A freed slot with stale bytes, which a creation must not bring back under its name.
          const f = d.open('stale', 'create');
          f.append(bytes('stale bytes'));
          f.sync();
          f.close();
          d.remove('stale');
        }
        root.faults.failIn = k;
        root.faults.sticky = true;
        let returned = false;
        try {
          if (op === 'create') d.open('fresh', 'create').close();
          else d.remove('victim');
          returned = true;
        } catch (e) {
          expect((e as { code?: string }).code).toBe('IO_ERROR');
        }
        root = root.crash({ failIn: undefined, name: 'InvalidStateError', calls: 0 });
        const after = await OpfsDirectory.open('steps');
        expect(text(after.readAll('keep'))).toBe('kept');
        if (op === 'create') {
          expect(after.exists('stale')).toBe(false);
          const fresh = after.readAll('fresh');
          if (returned) expect(fresh).toEqual(new Uint8Array(0));
          if (fresh !== undefined) expect(fresh.length).toBe(0);
        } else {
          const victim = text(after.readAll('victim'));
          if (returned) expect(victim).toBeUndefined();
          else expect([undefined, 'victim bytes']).toContain(victim);
        }
        await after.close();
        if (returned) break;
      }
    }
  });

  it('a CausalStorage cut by a power loss at many points keeps every acknowledged write', async () => {
    for (const k of [3, 17, 41, 90, 150, 260, 400, 650, 1200, 2100]) {
      root = fakeOpfs();
      const s = await CausalStorage.open({ adapter: new BrowserAdapter(await OpfsDirectory.open('power'), { sync: 'always', memtableBytes: 4096 }) });
      root.faults.failIn = k;
      root.faults.sticky = true;
      const acknowledged: number[] = [];
      for (let i = 0; i < 300 && root.faults.fired !== true; i++) {
        try {
          await s.put('ns', `k${i % 37}`, { i, pad: 'x'.repeat(60) });
          acknowledged.push(i);
        } catch {
          break;
        }
      }
      root = root.crash({ failIn: undefined, name: 'InvalidStateError', calls: 0 });
      const back = await CausalStorage.open({ adapter: new BrowserAdapter(await OpfsDirectory.open('power')) });
      const versions = new Set<number>();
      for (let key = 0; key < 37; key++) {
        if (!back.contains('ns', `k${key}`)) continue;
        for (const v of back.history('ns', `k${key}`)) versions.add((back.getVersionById('ns', `k${key}`, v.versionId).value as { i: number }).i);
      }
      for (const i of acknowledged) expect(versions.has(i), `cut after ${k} calls: version ${i} lost`).toBe(true);
      expect((await back.verify()).ok).toBe(true);
      await back.close();
      await s.close().catch(() => undefined);
    }
  });

  it('a second opener gets DATABASE_LOCKED (the handles are exclusive) until the first closes', async () => {
    root = fakeOpfs();
    const a = await OpfsDirectory.open('locked/db');
    a.writeAtomic('NODE', bytes('x'));
    expect(await rejectionCode(OpfsDirectory.open('locked/db'))).toBe('DATABASE_LOCKED');
    await a.close();
    const b = await OpfsDirectory.open('locked/db');
    expect(text(b.readAll('NODE'))).toBe('x');
    await b.close();
  });

  it('an append refused by the quota is STORAGE_FULL and leaves the file as it was', async () => {
    root = fakeOpfs();
    const d = await OpfsDirectory.open('quota');
    const f = d.open('00000001.kwal', 'create');
    f.append(bytes('kept'));
    root.faults.name = 'QuotaExceededError';
    root.faults.failIn = 1;
    expect(codeOf(() => f.append(bytes('refused')))).toBe('STORAGE_FULL');
    expect(f.size()).toBe(4);
    expect(text(f.read(0, 100))).toBe('kept');
    root.faults.failIn = 1;
    expect(codeOf(() => d.writeAtomic('MANIFEST', bytes('m')))).toBe('STORAGE_FULL');
    expect(d.exists('MANIFEST')).toBe(false);
    f.append(bytes('+more'));
    expect(text(d.readAll('00000001.kwal'))).toBe('kept+more');
    f.close();
    await d.close();
  });

  it('a file removed or replaced while open stays readable until closed; its slot is then reused', async () => {
    root = fakeOpfs();
    const d = await OpfsDirectory.open('unlink');
    const w = d.open('a', 'create');
    w.append(bytes('segment bytes'));
    const r = d.open('a', 'read');
    d.remove('a');
    expect(d.exists('a')).toBe(false);
    expect(text(r.read(0, 100))).toBe('segment bytes');
    // Cleared on disk at once: a power loss now does not bring it back.
    const crashed = root.crash();
    const free = d.freeSlots;
    w.close();
    expect(d.freeSlots).toBe(free);
    r.close();
    expect(d.freeSlots).toBe(free + 1);
    await d.close();
    root = crashed;
    const again = await OpfsDirectory.open('unlink');
    expect(again.list()).toEqual([]);
    await again.close();
  });

  it('a slot whose header is damaged is free: its file is gone, and the engine above says so', async () => {
    root = fakeOpfs();
    const d = await OpfsDirectory.open('header');
    d.writeAtomic('A', bytes('aaa'));
    d.writeAtomic('B', bytes('bbb'));
    await d.close();
    const dir = ['koru', 'header'];
    const pool = (root as unknown as { file: FakeDirectory['file'] }).file.bind(root);
    let flipped = false;
    for (let i = 0; i < 64 && !flipped; i++) {
      const f = pool(dir, `pool-${String(i).padStart(6, '0')}`);
      if (f !== undefined && decodePoolHeader(f.data.subarray(0, POOL_HEADER_BYTES))?.name === 'A') {
        f.data[30]! ^= 1;
        flipped = true;
      }
    }
    expect(flipped).toBe(true);
    const after = await OpfsDirectory.open('header');
    expect(after.list()).toEqual(['B']);
    await after.close();
  });

  it('keeps free slots ahead: creations past them fail (IO_ERROR), reserve() makes room, the pool refills in the background', async () => {
    root = fakeOpfs();
    const d = await OpfsDirectory.open('pool', { lowWater: 4, growBy: 4 });
    expect(d.freeSlots).toBeGreaterThanOrEqual(4);
    const made: string[] = [];
    let error: unknown;
    try {
      for (let i = 0; i < 50; i++) {
        d.open(`f${i}`, 'create').close();
        made.push(`f${i}`);
      }
    } catch (e) {
      error = e;
    }
    expect((error as { code?: string }).code).toBe('IO_ERROR');
    expect(String((error as Error).message)).toMatch(/no free file slot in the OPFS pool/);
    expect(made.length).toBeLessThan(50);
    expect(d.list()).toEqual([...made].sort());
    await d.reserve(30);
    for (let i = made.length; i < made.length + 30; i++) d.open(`f${i}`, 'create').close();
    // Below the low-water mark now: a grow runs in the background.
    for (let i = 0; i < 10 && d.freeSlots < 4; i++) await new Promise((r) => setTimeout(r, 1));
    expect(d.freeSlots).toBeGreaterThanOrEqual(4);
    const files = d.list().length;
    await d.close();
    const again = await OpfsDirectory.open('pool');
    expect(again.list().length).toBe(files);
    await again.close();
  });

  it('refuses bad paths with INVALID_ARGUMENT', async () => {
    for (const p of ['', '..', 'a/../b', 'a//b', 'a b', '/abs', 'x'.repeat(300), 'é']) {
      expect(await rejectionCode(OpfsDirectory.open(p)), p).toBe('INVALID_ARGUMENT');
    }
  });
});
