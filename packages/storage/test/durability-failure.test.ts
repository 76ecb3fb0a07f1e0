// A write refused because its durability barrier failed (IndexedDB's persist: quota →
// STORAGE_FULL) must never be readable: the batch already sits in the tree in memory, so
// the store fails (every later read and write throws, reopen) rather than serve it.
// DirectoryAdapter over a MemoryDirectory whose persist keeps a copy of what it persisted
// (the state a reopen finds, as IndexedDB holds the directory as of its last persist).
import { CausalStorage, DirectoryAdapter, IoError, MemoryDirectory, StorageFullError, type PersistingDirectory } from '@koru/storage';
import { describe, expect, it } from 'vitest';
import { codeOf, rejectionCode } from './conformance.js';

/** A copy of every file of `dir` as it is now (written or not). */
function copyOf(dir: MemoryDirectory): MemoryDirectory {
  const copy = new MemoryDirectory('copy');
  for (const name of dir.list()) copy.writeAtomic(name, dir.readAll(name)!);
  return copy;
}

/**
 * A MemoryDirectory persisted by copy. Once `failWith` is set, every persist rejects with
 * it, as IdbDirectory's do after a failed persist (so the refused batch never persists).
 */
class SnapshotDirectory extends MemoryDirectory implements PersistingDirectory {
  /** What the last successful persist left (what reopening finds). */
  persisted = new MemoryDirectory('persisted');
  failWith: Error | undefined;
  persist(): Promise<void> {
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    this.persisted = copyOf(this);
    return Promise.resolve();
  }
}

/** `fn`'s error code, whether it throws or returns a rejected promise. */
async function failureCode(fn: () => unknown): Promise<string> {
  return rejectionCode(Promise.resolve().then(fn));
}

describe('a failed durability barrier', () => {
  for (const [code, error] of [
    ['STORAGE_FULL', () => new StorageFullError('quota exceeded (test)')],
    ['IO_ERROR', () => new IoError('the transaction aborted (test)')],
  ] as const) {
    it(`(${code}) fails the store: the refused write is never read, later reads and writes throw, a reopen has only the acknowledged writes`, async () => {
      const dir = new SnapshotDirectory();
      const s = await CausalStorage.open({ adapter: new DirectoryAdapter(dir) });
      await s.put('ns', 'a', { n: 1 });
      await s.put('ns', 'b', { n: 1 });
      dir.failWith = error();
      expect(await rejectionCode(s.put('ns', 'a', { n: 2 }))).toBe(code);
      // Not the refused value, and not the older one either: nothing this session holds is trusted.
      expect(codeOf(() => s.get('ns', 'a'))).toBe(code);
      expect(codeOf(() => s.get('ns', 'b'))).toBe(code);
      expect(codeOf(() => s.history('ns', 'a'))).toBe(code);
      expect(await failureCode(() => s.put('ns', 'c', { n: 1 }))).toBe(code);
      expect(await failureCode(() => s.delete('ns', 'b'))).toBe(code);
      let message = '';
      try {
        s.get('ns', 'a');
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/reopen the database/);
      // Closing reports that what it holds could not be persisted (the directory stays failed).
      expect(await rejectionCode(s.close())).toBe(code);
      // The writes refused after the failure never reached the tree (what is in memory, persisted or not).
      const memory = await CausalStorage.open({ adapter: new DirectoryAdapter(copyOf(dir)) });
      expect(memory.contains('ns', 'c')).toBe(false);
      expect(memory.contains('ns', 'b')).toBe(true);
      await memory.close();

      const back = await CausalStorage.open({ adapter: new DirectoryAdapter(dir.persisted) });
      expect(back.get('ns', 'a')).toEqual({ n: 1 });
      expect(back.get('ns', 'b')).toEqual({ n: 1 });
      expect(back.history('ns', 'a').length).toBe(1);
      expect(back.contains('ns', 'c')).toBe(false);
      await back.close();
    });
  }

  it('a retention policy or a purge whose persist fails fails the store too', async () => {
    for (const act of ['setRetention', 'purge'] as const) {
      const dir = new SnapshotDirectory();
      const s = await CausalStorage.open({ adapter: new DirectoryAdapter(dir) });
      await s.put('ns', 'a', { n: 1 });
      // A purge writes its tombstone first: let that one persist, fail the erasure's.
      const persist = dir.persist.bind(dir);
      let left = act === 'purge' ? 1 : 0;
      dir.persist = () => (left-- > 0 ? persist() : Promise.reject(new StorageFullError('quota exceeded (test)')));
      const done = act === 'purge' ? s.purge('ns', 'a') : s.setRetention('ns', { lastVersions: 1 });
      expect(await rejectionCode(done), act).toBe('STORAGE_FULL');
      expect(codeOf(() => s.get('ns', 'a')), act).toBe('STORAGE_FULL');
      await s.close().catch(() => undefined);
    }
  });

  it('writes queued behind the refused batch fail with it and are not stored', async () => {
    const dir = new SnapshotDirectory();
    const s = await CausalStorage.open({ adapter: new DirectoryAdapter(dir) });
    await s.put('ns', 'a', { n: 1 });
    dir.failWith = new StorageFullError('quota exceeded (test)');
    const first = s.put('ns', 'x', { n: 1 });
    const codes = rejectionCode(first);
    // Queued while the first batch awaits its barrier.
    await Promise.resolve();
    const second = rejectionCode(s.put('ns', 'y', { n: 1 }));
    expect(await codes).toBe('STORAGE_FULL');
    expect(await second).toBe('STORAGE_FULL');
    await s.close().catch(() => undefined);
    const memory = await CausalStorage.open({ adapter: new DirectoryAdapter(copyOf(dir)) });
    expect(memory.contains('ns', 'y')).toBe(false);
    await memory.close();
    const back = await CausalStorage.open({ adapter: new DirectoryAdapter(dir.persisted) });
    expect(back.contains('ns', 'x')).toBe(false);
    expect(back.contains('ns', 'y')).toBe(false);
    expect(back.get('ns', 'a')).toEqual({ n: 1 });
    await back.close();
  });
});
