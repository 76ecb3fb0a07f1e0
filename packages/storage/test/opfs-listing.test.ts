// listOpfsPool (the owning tab lists a database's OPFS pool while its worker starts) and
// OpfsDirectory.open from such a listing, over the in-memory OPFS of test/opfs-fake.ts:
// nothing is created by listing, the listing names exactly the pool files, an open from
// it reads the same database without walking or listing the directory itself, and a
// listing of another directory is refused. The real page → worker path runs in Chromium
// in tooling/browser-test (every shared database opens this way).
import { listOpfsPool, OpfsDirectory } from '@koru/storage/browser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rejectionCode } from './conformance.js';
import { fakeOpfs, installFakeOpfs, type FakeDirectory } from './opfs-fake.js';

let root: FakeDirectory = fakeOpfs();
let restore: () => void;
beforeAll(() => {
  restore = installFakeOpfs(() => root);
});
afterAll(() => restore());

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

/** A database at `path` holding files f0…f(n-1), closed. */
async function made(path: string, n: number): Promise<{ files: string[] }> {
  const d = await OpfsDirectory.open(path, { lowWater: 4, growBy: 4 });
  for (let i = 0; i < n; i++) {
    await d.reserve(1);
    d.writeAtomic(`f${i}`, bytes(`content ${i}`));
  }
  const files = d.list();
  await d.close();
  return { files };
}

describe('listOpfsPool', () => {
  it('lists nothing and creates nothing for a database that does not exist yet, or a bad path', async () => {
    root = fakeOpfs();
    expect(await listOpfsPool('new/db')).toBeUndefined();
    expect([...root.entries.keys()]).toEqual([]);
    await made('other', 1);
    expect(await listOpfsPool('new/db')).toBeUndefined();
    expect([...(root.entries.get('koru') as FakeDirectory).entries.keys()]).toEqual(['other']);
    expect(await listOpfsPool('../x')).toBeUndefined();
  });

  it('names exactly the pool files of the directory koru/<path>', async () => {
    root = fakeOpfs();
    await made('a/b', 6);
    // A file that is not a pool file is not listed.
    const dir = (((root.entries.get('koru') as FakeDirectory).entries.get('a') as FakeDirectory).entries.get('b') as FakeDirectory);
    await dir.getFileHandle('stray', { create: true });
    const listing = (await listOpfsPool('a/b'))!;
    expect(listing.directory.name).toBe('b');
    expect(listing.files.map((f) => f.name).sort()).toEqual([...dir.entries.keys()].filter((n) => n.startsWith('pool-')).sort());
    expect(listing.files.length).toBeGreaterThanOrEqual(6);
  });

  it('an open from the listing reads the same database without walking or listing the directory, and grows it as usual', async () => {
    root = fakeOpfs();
    const { files } = await made('db', 10);
    const listing = (await listOpfsPool('db'))!;
    // From here, listing the directory or walking to it would fail: the open must not need either.
    const walk = root.getDirectoryHandle.bind(root);
    const list = listing.directory.keys.bind(listing.directory);
    root.getDirectoryHandle = () => Promise.reject(Object.assign(new Error('walked'), { name: 'InvalidStateError' }));
    (listing.directory as { keys: () => AsyncIterableIterator<string> }).keys = () => {
      throw Object.assign(new Error('listed'), { name: 'InvalidStateError' });
    };
    const d = await OpfsDirectory.open('db', { lowWater: 4, growBy: 4, listing });
    expect(d.list()).toEqual(files);
    expect(d.poolSize).toBe(listing.files.length);
    for (let i = 0; i < 10; i++) expect(text(d.readAll(`f${i}`))).toBe(`content ${i}`);
    // Past the listed slots: the pool grows in the directory the listing gave.
    for (let i = 10; i < 30; i++) {
      await d.reserve(1);
      d.writeAtomic(`f${i}`, bytes(`content ${i}`));
    }
    await d.close();
    expect(await rejectionCode(OpfsDirectory.open('db'))).toBe('IO_ERROR');
    root.getDirectoryHandle = walk;
    (listing.directory as { keys: () => AsyncIterableIterator<string> }).keys = list;
    const again = await OpfsDirectory.open('db');
    for (let i = 0; i < 30; i++) expect(text(again.readAll(`f${i}`))).toBe(`content ${i}`);
    await again.close();
  });

  it('refuses a listing of another directory (INVALID_ARGUMENT), and a listed file held elsewhere is DATABASE_LOCKED', async () => {
    root = fakeOpfs();
    await made('one', 1);
    await made('two', 1);
    const listing = (await listOpfsPool('two'))!;
    expect(await rejectionCode(OpfsDirectory.open('one', { listing }))).toBe('INVALID_ARGUMENT');
    const held = await listing.files[0]!.createSyncAccessHandle();
    expect(await rejectionCode(OpfsDirectory.open('two', { listing }))).toBe('DATABASE_LOCKED');
    held.close();
    const d = await OpfsDirectory.open('two', { listing });
    expect(text(d.readAll('f0'))).toBe('content 0');
    await d.close();
  });
});
