// OpfsDirectory (the access-handle pool) over an in-memory OPFS (test/opfs-fake.ts):
// the storage conformance suite through BrowserAdapter, writeAtomic cut by a power loss
// after every step, a CausalStorage cut by a power loss at many points (every
// acknowledged write survives), exclusive handles, quota failures, files removed while
// open, damaged headers (two copies: one damaged opens, both is CORRUPTION), bad paths.
// Power losses keep each file as of its last flush, or with its later changes kept in
// part, the last one torn (FakeDirectory.crash's `kept`). The same code runs in Chromium in
// tooling/browser-test/test/storage-opfs.test.mjs.
import { CausalStorage } from '@koru/storage';
import { BrowserAdapter, classifyPoolHeaders, decodePoolHeader, encodePoolHeader, HEADER_COPY_BYTES, OpfsDirectory, POOL_HEADER_BYTES } from '@koru/storage/browser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, rejectionCode, runStorageConformance } from './conformance.js';
import { fakeOpfs, installFakeOpfs, type FakeDirectory } from './opfs-fake.js';

let root: FakeDirectory = fakeOpfs();
let restore: () => void;
beforeAll(() => {
  restore = installFakeOpfs(() => root);
});
afterAll(() => restore());

const FRESH = () => ({ failIn: undefined, name: 'InvalidStateError', calls: 0 });

/** Power-loss outcomes of `at` now: as of the last flushes, then with more of the later changes kept (the last torn), and with all of them torn. */
function crashes(at: FakeDirectory): FakeDirectory[] {
  const out: FakeDirectory[] = [];
  for (let kept = 0; kept <= 2 * at.maxPending(); kept++) out.push(at.crash(FRESH(), kept));
  if (at.maxPending() > 0) out.push(at.crash(FRESH(), -1));
  return out;
}

/** The pool files of `koru/<path>` in `at`, with their bytes. */
function poolFiles(at: FakeDirectory, path: string): { name: string; file: { data: Uint8Array; length: number } }[] {
  let d = at;
  for (const p of ['koru', ...path.split('/')]) d = d.entries.get(p) as FakeDirectory;
  return [...d.entries.keys()].sort().map((name) => ({ name, file: at.file(['koru', ...path.split('/')], name) }));
}

/** The pool file whose header names `name`. */
function poolFileOf(at: FakeDirectory, path: string, name: string): { name: string; file: { data: Uint8Array; length: number } } {
  const found = poolFiles(at, path).find(({ file }) => {
    const s = classifyPoolHeaders(file.data.subarray(0, Math.min(file.length, POOL_HEADER_BYTES)));
    return s.kind === 'file' && s.header.name === name;
  });
  if (found === undefined) throw new Error(`no pool file holds ${name}`);
  return found;
}

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
  it('pool headers: a copy round-trips and any flipped byte invalidates it; the two copies classify a slot', () => {
    const h = encodePoolHeader('00000012.kseg', 2 ** 40 + 5);
    expect(h.length).toBe(HEADER_COPY_BYTES);
    expect(POOL_HEADER_BYTES).toBe(2 * HEADER_COPY_BYTES);
    expect(decodePoolHeader(h)).toEqual({ name: '00000012.kseg', generation: 2 ** 40 + 5 });
    for (const at of [0, 5, 7, 9, 20, HEADER_COPY_BYTES - 1]) {
      const torn = h.slice();
      torn[at]! ^= 0x10;
      expect(decodePoolHeader(torn), `byte ${at}`).toBeUndefined();
    }
    expect(decodePoolHeader(new Uint8Array(HEADER_COPY_BYTES))).toBeUndefined();
    expect(decodePoolHeader(h.subarray(0, 100))).toBeUndefined();
    expect(() => encodePoolHeader('', 1)).toThrow(RangeError);

    const header = { name: '00000012.kseg', generation: 2 ** 40 + 5 };
    const area = (a: Uint8Array | 'zero' | 'flip', b: Uint8Array | 'zero' | 'flip' | 'missing') => {
      const out = new Uint8Array(b === 'missing' ? HEADER_COPY_BYTES : POOL_HEADER_BYTES);
      const copy = (c: Uint8Array | 'zero' | 'flip') => {
        if (c === 'zero') return new Uint8Array(HEADER_COPY_BYTES);
        const x = c === 'flip' ? h.slice() : c;
        if (c === 'flip') x[33]! ^= 4;
        return x;
      };
      out.set(copy(a), 0);
      if (b !== 'missing') out.set(copy(b), HEADER_COPY_BYTES);
      return out;
    };
    expect(classifyPoolHeaders(area(h, h))).toEqual({ kind: 'file', header, from: 0, intact: true });
    expect(classifyPoolHeaders(area('flip', h))).toEqual({ kind: 'file', header, from: 1, intact: false });
    expect(classifyPoolHeaders(area(h, 'flip'))).toEqual({ kind: 'file', header, from: 0, intact: false });
    expect(classifyPoolHeaders(area(h, 'zero'))).toEqual({ kind: 'file', header, from: 0, intact: false });
    expect(classifyPoolHeaders(area(h, 'missing'))).toEqual({ kind: 'file', header, from: 0, intact: false });
    expect(classifyPoolHeaders(area('flip', 'flip'))).toEqual({ kind: 'damaged' });
    // A torn first claim (or last clear): free. Damage in a slot that held nothing: free.
    expect(classifyPoolHeaders(area('flip', 'zero'))).toEqual({ kind: 'free' });
    expect(classifyPoolHeaders(area('flip', 'missing'))).toEqual({ kind: 'free' });
    expect(classifyPoolHeaders(area('zero', 'flip'))).toEqual({ kind: 'free' });
    expect(classifyPoolHeaders(area('zero', 'zero'))).toEqual({ kind: 'free' });
    expect(classifyPoolHeaders(h.subarray(0, 300))).toEqual({ kind: 'free' });
    expect(classifyPoolHeaders(new Uint8Array(0))).toEqual({ kind: 'free' });
  });

  it('writeAtomic cut by a power loss after any step (writes lost or torn) leaves the old file or the new one, never CORRUPTION', async () => {
    let cuts = 0;
    let outcomes = 0;
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
      for (const crashed of crashes(root)) {
        root = crashed;
        // Twice: the first open rewrites a copy left behind; the second reads what that left.
        for (let again = 0; again < 2; again++) {
          const after = await OpfsDirectory.open('atomic');
          const x = text(after.readAll('X'));
          expect(['old', 'new!']).toContain(x);
          if (returned) expect(x).toBe('new!');
          expect(text(after.readAll('Y'))).toBe('other');
          expect(after.list()).toEqual(['X', 'Y']);
          await after.close();
        }
        outcomes++;
      }
      if (returned) break;
      cuts++;
    }
    // Content, flush, copy A, flush, copy B, flush, and freeing the old slot: each cut once.
    expect(cuts).toBeGreaterThanOrEqual(6);
    expect(outcomes).toBeGreaterThan(cuts);
  });

  it('create, remove, and remove while open cut by a power loss after any step (writes lost or torn): the file is absent or whole, never CORRUPTION', async () => {
    for (const op of ['create', 'remove', 'remove open'] as const) {
      let torn = 0;
      for (let k = 1; ; k++) {
        root = fakeOpfs();
        const d = await OpfsDirectory.open('steps');
        d.writeAtomic('keep', bytes('kept'));
        let reader: { close(): void } | undefined;
        if (op !== 'create') {
          const f = d.open('victim', 'create');
          f.append(bytes('victim bytes'));
          f.sync();
          f.close();
          if (op === 'remove open') reader = d.open('victim', 'read');
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
        const outcomes = crashes(root);
        if (outcomes.length > 1) torn++;
        // Closed first, so the reader's close frees nothing (the power is gone).
        await d.close();
        reader?.close();
        for (const crashed of outcomes) {
          root = crashed;
          for (let again = 0; again < 2; again++) {
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
          }
        }
        if (returned) break;
      }
      // Some cut fell between a write and its flush (a torn outcome was tried).
      expect(torn, op).toBeGreaterThan(0);
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

  it('an opener refused by one held pool file (its handles are taken all at once) keeps none of the others: the next open succeeds', async () => {
    root = fakeOpfs();
    const a = await OpfsDirectory.open('partial/db', { lowWater: 8, growBy: 8 });
    a.writeAtomic('NODE', bytes('x'));
    await a.close();
    let dir = await root.getDirectoryHandle('koru');
    for (const part of ['partial', 'db']) dir = await dir.getDirectoryHandle(part);
    const names = poolFiles(root, 'partial/db').map((f) => f.name);
    expect(names.length).toBeGreaterThanOrEqual(9);
    // Another context holds one pool file in the middle of the list.
    const held = await (await dir.getFileHandle(names[4]!)).createSyncAccessHandle();
    expect(await rejectionCode(OpfsDirectory.open('partial/db', { lowWater: 8, growBy: 8 }))).toBe('DATABASE_LOCKED');
    held.close();
    const b = await OpfsDirectory.open('partial/db', { lowWater: 8, growBy: 8 });
    expect(text(b.readAll('NODE'))).toBe('x');
    expect(b.poolSize).toBe(names.length);
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

  it("a flipped byte in either header copy of a live file: it opens from the other copy (rewritten); in both copies: CORRUPTION naming the pool file", async () => {
    for (const copies of [[0], [1], [0, 1]] as const) {
      root = fakeOpfs();
      const d = await OpfsDirectory.open('header');
      const log = d.open('00000003.kwal', 'create');
      log.append(bytes('unflushed writes'));
      log.sync();
      log.close();
      d.writeAtomic('B', bytes('bbb'));
      await d.close();
      const { name: pool, file } = poolFileOf(root, 'header', '00000003.kwal');
      for (const c of copies) file.data[c * HEADER_COPY_BYTES + 30]! ^= 1;
      if (copies.length === 2) {
        let error: unknown;
        try {
          await OpfsDirectory.open('header');
        } catch (e) {
          error = e;
        }
        expect((error as { code?: string }).code).toBe('CORRUPTION');
        expect((error as { details?: { file?: string } }).details?.file).toBe(`opfs:koru/header/${pool}`);
        expect(String((error as Error).message)).toMatch(/repair does not help/);
        // Refusing released every handle: the next open gets CORRUPTION again, not DATABASE_LOCKED.
        expect(await rejectionCode(OpfsDirectory.open('header'))).toBe('CORRUPTION');
        continue;
      }
      const after = await OpfsDirectory.open('header');
      expect(after.list()).toEqual(['00000003.kwal', 'B']);
      expect(text(after.readAll('00000003.kwal'))).toBe('unflushed writes');
      await after.close();
      // The damaged copy was rewritten: both are the same valid bytes again.
      const area = file.data.subarray(0, POOL_HEADER_BYTES);
      expect(classifyPoolHeaders(area)).toMatchObject({ kind: 'file', intact: true });
    }
  });

  it('a flipped byte in a free slot\'s header (either copy) is harmless: the slot held nothing, stays free, and is truncated at open', async () => {
    for (const c of [0, 1]) {
      root = fakeOpfs();
      const d = await OpfsDirectory.open('free');
      d.writeAtomic('A', bytes('aaa'));
      const f = d.open('gone', 'create');
      f.append(bytes('gone bytes'));
      f.sync();
      // Removed while open: its header area is cleared (zeros) at once, its bytes stay till the close.
      d.remove('gone');
      const crashed = root.crash(FRESH());
      f.close();
      await d.close();
      root = crashed;
      const cleared = poolFiles(root, 'free').filter(({ file }) => file.length > POOL_HEADER_BYTES && classifyPoolHeaders(file.data.subarray(0, POOL_HEADER_BYTES)).kind === 'free');
      expect(cleared.length).toBe(1);
      cleared[0]!.file.data[c * HEADER_COPY_BYTES + 7]! ^= 0x40;
      const after = await OpfsDirectory.open('free');
      expect(after.list()).toEqual(['A']);
      // Tidied at open: truncated to nothing, so a second damaged byte finds nothing to damage.
      expect(cleared[0]!.file.length).toBe(0);
      // Reused like any free slot.
      const free = after.freeSlots;
      after.open('new', 'create').close();
      expect(after.freeSlots).toBe(free - 1);
      expect(after.readAll('new')).toEqual(new Uint8Array(0));
      await after.close();
    }
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
