// The in-memory adapter passes the shared conformance suite.
import { CausalStorage, MemoryAdapter } from '@koru/storage';
import { describe, expect, it } from 'vitest';
import { runStorageConformance } from './conformance.js';

runStorageConformance('MemoryAdapter', async (options = {}) => {
  const storage = await CausalStorage.open({ ...options, adapter: new MemoryAdapter() });
  return { adapter: 'memory', storage, reopen: null, dispose: () => storage.close() };
});

describe('MemoryAdapter', () => {
  it('is the default adapter and keeps the node id it was given', async () => {
    const s = await CausalStorage.open();
    expect(s.stats()).toMatchObject({ adapter: 'memory', diskBytes: 0 });
    await s.close();
    const t = await CausalStorage.open({ adapter: new MemoryAdapter('00112233aabbccdd') });
    expect(t.nodeId).toBe('00112233aabbccdd');
    expect((await t.put('n', 'k', 1)).node).toBe('00112233aabbccdd');
    expect(t.recovery).toEqual({ replayed: 0 });
    await t.close();
  });

  it('gives each store its own random node id', async () => {
    const [a, b] = await Promise.all([CausalStorage.open(), CausalStorage.open()]);
    expect(a.nodeId).not.toBe(b.nodeId);
    await Promise.all([a.close(), b.close()]);
  });
});
