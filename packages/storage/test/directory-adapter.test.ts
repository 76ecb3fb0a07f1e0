// DirectoryAdapter over a MemoryDirectory: the shared conformance suite with reopen
// (a second adapter over the same directory), the NODE file's rules, the durability
// barrier of a directory that persists asynchronously, and room reserved before merges.
import { CausalStorage, DirectoryAdapter, MemoryDirectory, type PersistingDirectory, type ReservingDirectory } from '@koru/storage';
import { tempDir } from '@koru/vitest-preset/helpers';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeNodeId, parseNodeId } from '../src/node-id-format.js';
import { writeNodeId } from '../src/node/node-id.js';
import { rejectionCode, runStorageConformance } from './conformance.js';

for (const sync of ['periodic', 'always'] as const) {
  runStorageConformance(`DirectoryAdapter over MemoryDirectory (sync: ${sync})`, async (options = {}) => {
    const dir = new MemoryDirectory('conf');
    const open = () => CausalStorage.open({ ...options, adapter: new DirectoryAdapter(dir, { name: 'memdir', sync, syncIntervalMs: 5 }) });
    let current = await open();
    return {
      adapter: 'memdir',
      storage: current,
      reopen: async () => {
        await current.close();
        current = await open();
        return current;
      },
      dispose: () => current.close(),
    };
  });
}

/** A MemoryDirectory whose persistence the test releases by hand. */
class ManualPersistDirectory extends MemoryDirectory implements PersistingDirectory {
  /** While false, persist() resolves at once. */
  manual = false;
  readonly waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  persist(): Promise<void> {
    if (!this.manual) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }
}

/** A MemoryDirectory that records the room asked for. */
class CountingDirectory extends MemoryDirectory implements ReservingDirectory {
  readonly asked: number[] = [];
  reserve(files: number): Promise<void> {
    this.asked.push(files);
    return Promise.resolve();
  }
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('DirectoryAdapter', () => {
  it('a second adapter over the same directory sees every version, with the same node id', async () => {
    const dir = new MemoryDirectory();
    const a = await CausalStorage.open({ adapter: new DirectoryAdapter(dir, { memtableBytes: 4096 }) });
    for (let i = 0; i < 300; i++) await a.put('ns', `k${i % 40}`, { i });
    const nodeId = a.nodeId;
    expect(a.stats().adapter).toBe('directory');
    await a.close();
    expect(dir.list().some((f) => f.endsWith('.kseg'))).toBe(true);
    const adapter = new DirectoryAdapter(dir);
    const b = await CausalStorage.open({ adapter });
    expect(b.nodeId).toBe(nodeId);
    for (let k = 0; k < 40; k++) expect(b.history('ns', `k${k}`).length).toBe(k < 300 % 40 ? 8 : 7);
    expect(b.get('ns', 'k19')).toEqual({ i: 299 });
    expect((await b.verify()).ok).toBe(true);
    expect(adapter.diskBytes()).toBeGreaterThan(1000);
    await b.close();
  });

  it('writes NODE in the format of node:fs FileAdapter (16 hex digits and their CRC-32)', async () => {
    const dir = new MemoryDirectory();
    const s = await CausalStorage.open({ adapter: new DirectoryAdapter(dir) });
    const text = new TextDecoder().decode(dir.readAll('NODE'));
    expect(text).toMatch(/^[0-9a-f]{16} \d+\n$/);
    expect(parseNodeId(text)).toEqual({ state: 'ok', id: s.nodeId, legacy: false });
    await s.close();
    const tmp = tempDir('koru-node-id-');
    try {
      writeNodeId(tmp.dir, s.nodeId);
      expect(readFileSync(join(tmp.dir, 'NODE'), 'latin1')).toBe(text);
    } finally {
      tmp.cleanup();
    }
  });

  it('a missing or damaged NODE with data present is CORRUPTION; repair starts a new id and says so', async () => {
    const dir = new MemoryDirectory();
    const s = await CausalStorage.open({ adapter: new DirectoryAdapter(dir) });
    await s.put('ns', 'a', 1);
    const first = s.nodeId;
    await s.close();
    dir.flipBit('NODE', 0, 1);
    expect(await rejectionCode(CausalStorage.open({ adapter: new DirectoryAdapter(dir) }))).toBe('CORRUPTION');
    dir.remove('NODE');
    expect(await rejectionCode(CausalStorage.open({ adapter: new DirectoryAdapter(dir) }))).toBe('CORRUPTION');
    const r = await CausalStorage.open({ adapter: new DirectoryAdapter(dir, { repair: true }) });
    expect(r.nodeId).not.toBe(first);
    expect(r.recovery.repaired?.[0]?.message).toMatch(/NODE was missing: this node now writes as/);
    expect(r.get('ns', 'a')).toBe(1);
    await r.close();
    const again = await CausalStorage.open({ adapter: new DirectoryAdapter(dir) });
    expect(again.nodeId).toBe(r.nodeId);
    await again.close();
  });

  it('an id without its checksum (an early version) is read and rewritten with it', async () => {
    const dir = new MemoryDirectory();
    dir.writeAtomic('NODE', new TextEncoder().encode('0123456789abcdef\n'));
    const s = await CausalStorage.open({ adapter: new DirectoryAdapter(dir) });
    expect(s.nodeId).toBe('0123456789abcdef');
    expect(dir.readAll('NODE')).toEqual(encodeNodeId('0123456789abcdef'));
    await s.close();
  });

  it('refuses options out of range', () => {
    const dir = new MemoryDirectory();
    expect(() => new DirectoryAdapter(dir, { sync: 'never' as 'always' })).toThrow(/sync must be/);
    expect(() => new DirectoryAdapter(dir, { memtableBytes: 10 })).toThrow(/memtableBytes/);
    expect(() => new DirectoryAdapter(dir, { syncIntervalMs: -1 })).toThrow(/syncIntervalMs/);
    expect(() => new DirectoryAdapter(dir, { cacheBytes: 1.5 })).toThrow(/cacheBytes/);
    expect(() => new DirectoryAdapter(dir, { keepLogBytes: -5 })).toThrow(/keepLogBytes/);
  });

  it('a directory without a barrier gives the adapter none (nothing to await)', () => {
    expect(new DirectoryAdapter(new MemoryDirectory()).whenDurable).toBeUndefined();
    expect(typeof new DirectoryAdapter(new ManualPersistDirectory()).whenDurable).toBe('function');
  });

  it('a put resolves only once the directory persisted it', async () => {
    const dir = new ManualPersistDirectory();
    const s = await CausalStorage.open({ adapter: new DirectoryAdapter(dir) });
    dir.manual = true;
    let done = false;
    const put = s.put('ns', 'a', { n: 1 }).then(() => (done = true));
    for (let i = 0; i < 5; i++) await tick();
    expect(done).toBe(false);
    expect(dir.waiting.length).toBe(1);
    dir.waiting.shift()!.resolve();
    await put;
    expect(done).toBe(true);
    dir.manual = false;
    await s.close();
  });

  it('a rejected barrier rejects the put with its error', async () => {
    const dir = new ManualPersistDirectory();
    const s = await CausalStorage.open({ adapter: new DirectoryAdapter(dir) });
    dir.manual = true;
    const put = s.put('ns', 'a', { n: 1 });
    const code = rejectionCode(put);
    for (let i = 0; i < 3 && dir.waiting.length === 0; i++) await tick();
    const { StorageFullError } = await import('@koru/storage');
    dir.waiting.shift()!.reject(new StorageFullError('quota exceeded (test)'));
    expect(await code).toBe('STORAGE_FULL');
    dir.manual = false;
    await s.close();
  });

  it('asks a reserving directory for room before each flush and merge', async () => {
    const dir = new CountingDirectory();
    const s = await CausalStorage.open({ adapter: new DirectoryAdapter(dir, { memtableBytes: 2048 }) });
    for (let i = 0; i < 200; i++) await s.put('ns', `k${i}`, { pad: 'x'.repeat(50), i });
    await s.close();
    expect(dir.list().some((f) => f.endsWith('.kseg'))).toBe(true);
    // One at open, then one per flush (a single output: 1 + 4).
    expect(dir.asked[0]).toBe(8);
    expect(dir.asked.filter((n) => n === 5).length).toBeGreaterThan(0);
  });
});
