// IdbDirectory over fake-indexeddb (an in-memory IndexedDB): the storage conformance
// suite through BrowserAdapter, acknowledged writes present after the directory is
// dropped without closing (a crash), a failed persist failing the directory (the
// refused write never reappears, every acknowledged one does), persists that coalesce,
// and missing pages reported as CORRUPTION. Real IndexedDB, the Web Lock and the quota
// are covered in Chromium (tooling/browser-test/test/storage-opfs.test.mjs).
import 'fake-indexeddb/auto';
import { CausalStorage } from '@koru/storage';
import { BrowserAdapter, IdbDirectory } from '@koru/storage/browser';
import { describe, expect, it } from 'vitest';
import { rejectionCode, runStorageConformance } from './conformance.js';

let n = 0;
runStorageConformance('BrowserAdapter over IdbDirectory (fake-indexeddb)', async (options = {}) => {
  const path = `conf/${n++}`;
  const open = async () => CausalStorage.open({ ...options, adapter: new BrowserAdapter(await IdbDirectory.open(path)) });
  let current = await open();
  return {
    adapter: 'indexeddb',
    storage: current,
    reopen: async () => {
      await current.close();
      current = await open();
      return current;
    },
    dispose: () => current.close(),
  };
});

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

/** Makes IndexedDB puts fail (`mode`) until the returned function is called. */
function failPuts(mode: 'throw' | 'abort'): () => void {
  const proto = IDBObjectStore.prototype;
  const put = proto.put;
  proto.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
    if (mode === 'throw') throw new DOMException('quota exceeded (test)', 'QuotaExceededError');
    const r = put.apply(this, args);
    this.transaction.abort();
    return r;
  };
  return () => {
    proto.put = put;
  };
}

describe('IdbDirectory', () => {
  it('keeps files as of the last persist: pages of appended, truncated, replaced and removed files', async () => {
    const d = await IdbDirectory.open('files');
    const f = d.open('log', 'create');
    const big = new Uint8Array(200_000).map((_, i) => (i * 13) & 0xff);
    f.append(big);
    d.writeAtomic('M', bytes('one'));
    d.open('gone', 'create').append(bytes('x'));
    await d.persist();
    f.truncate(70_000);
    f.append(bytes('tail'));
    d.writeAtomic('M', bytes('two'));
    d.remove('gone');
    // Not persisted: a crash now keeps the state above.
    const late = d.open('late', 'create');
    late.append(bytes('never persisted'));
    const crashed = await IdbDirectory.open('files').catch((e: unknown) => e);
    // No Web Locks in Node: a second opener sees the state of the last persist.
    expect(crashed).toBeInstanceOf(IdbDirectory);
    const c = crashed as IdbDirectory;
    expect(c.list()).toEqual(['M', 'gone', 'log']);
    expect(c.readAll('log')).toEqual(big);
    expect(text(c.readAll('M'))).toBe('one');
    d.remove('late');
    await d.close();
    await c.close();
    const after = await IdbDirectory.open('files');
    expect(after.list()).toEqual(['M', 'log']);
    const log = after.readAll('log')!;
    expect(log.length).toBe(70_004);
    expect(log.subarray(0, 70_000)).toEqual(big.subarray(0, 70_000));
    expect(text(log.subarray(70_000))).toBe('tail');
    expect(text(after.readAll('M'))).toBe('two');
    await after.close();
  });

  it('persists called while one runs share the next one', async () => {
    const d = await IdbDirectory.open('coalesce');
    const f = d.open('a', 'create');
    f.append(bytes('1'));
    const first = d.persist();
    f.append(bytes('2'));
    const second = d.persist();
    f.append(bytes('3'));
    const third = d.persist();
    expect(third).toBe(second);
    await Promise.all([first, second, third]);
    await d.close();
    const again = await IdbDirectory.open('coalesce');
    expect(text(again.readAll('a'))).toBe('123');
    await again.close();
  });

  it('every acknowledged write is in IndexedDB: a store dropped without closing has them all', async () => {
    const s = await CausalStorage.open({ adapter: new BrowserAdapter(await IdbDirectory.open('crash'), { memtableBytes: 4096 }) });
    for (let i = 0; i < 200; i++) await s.put('ns', `k${i % 23}`, { i });
    await Promise.all(Array.from({ length: 50 }, (_, i) => s.put('ns', `c${i}`, { i })));
    const back = await CausalStorage.open({ adapter: new BrowserAdapter(await IdbDirectory.open('crash')) });
    expect(back.nodeId).toBe(s.nodeId);
    expect(back.stats().versions).toBe(250);
    expect(back.get('ns', 'k15')).toEqual({ i: 199 });
    expect((await back.verify()).ok).toBe(true);
    await back.close();
    await s.close();
  });

  for (const mode of ['throw', 'abort'] as const) {
    it(`a failed persist (${mode === 'throw' ? 'QuotaExceededError as a request is made' : 'the transaction aborted'}) fails the write and the directory; after reopening, acknowledged writes are there and the refused one is not`, async () => {
      const path = `failed-${mode}`;
      const s = await CausalStorage.open({ adapter: new BrowserAdapter(await IdbDirectory.open(path)) });
      for (let i = 0; i < 20; i++) await s.put('ns', `k${i}`, { i });
      const restore = failPuts(mode);
      let code: string;
      try {
        code = await rejectionCode(s.put('ns', 'refused', { no: true }));
      } finally {
        restore();
      }
      expect(code).toBe(mode === 'throw' ? 'STORAGE_FULL' : 'IO_ERROR');
      // The directory is failed: later writes are refused too, with the same error.
      expect(await rejectionCode(s.put('ns', 'later', { no: true }))).toBe(code);
      await s.close().catch(() => undefined);
      const back = await CausalStorage.open({ adapter: new BrowserAdapter(await IdbDirectory.open(path)) });
      expect(back.contains('ns', 'refused')).toBe(false);
      expect(back.contains('ns', 'later')).toBe(false);
      for (let i = 0; i < 20; i++) expect(back.get('ns', `k${i}`)).toEqual({ i });
      expect((await back.verify()).ok).toBe(true);
      await back.close();
    });
  }

  it('a file whose pages are missing is CORRUPTION at open', async () => {
    const d = await IdbDirectory.open('damaged');
    d.open('seg', 'create').append(new Uint8Array(150_000).fill(7));
    await d.close();
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('koru:damaged');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const tx = db.transaction(['files', 'pages'], 'readwrite');
    const { id } = await new Promise<{ id: number }>((resolve) => {
      const r = tx.objectStore('files').get('seg');
      r.onsuccess = () => resolve(r.result as { id: number });
    });
    tx.objectStore('pages').delete([id, 1]);
    await new Promise((resolve) => (tx.oncomplete = resolve));
    db.close();
    expect(await rejectionCode(IdbDirectory.open('damaged'))).toBe('CORRUPTION');
  });

  it('refuses bad paths with INVALID_ARGUMENT', async () => {
    for (const p of ['', '../x', 'a b', 'a//b']) expect(await rejectionCode(IdbDirectory.open(p)), p).toBe('INVALID_ARGUMENT');
  });
});
