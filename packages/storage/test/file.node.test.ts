// The durable log adapter passes the shared conformance suite under both sync
// policies, with every state checked again after close + reopen.
import { CausalStorage } from '@koru/storage';
import { FileAdapter } from '@koru/storage/node';
import { tempDir } from '@koru/vitest-preset/helpers';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runStorageConformance } from './conformance.js';
import { dataFiles } from './disk-helpers.js';

for (const sync of ['periodic', 'always'] as const) {
  runStorageConformance(`FileAdapter (sync: ${sync})`, async (options = {}) => {
    const { dir, cleanup } = tempDir('koru-conf-');
    const open = () => CausalStorage.open({ ...options, adapter: new FileAdapter(dir, { sync, syncIntervalMs: 5 }) });
    let current: CausalStorage;
    try {
      current = await open();
    } catch (e) {
      cleanup();
      throw e;
    }
    return {
      adapter: 'file',
      storage: current,
      reopen: async () => {
        await current.close();
        current = await open();
        return current;
      },
      dispose: async () => {
        try {
          await current.close();
        } finally {
          cleanup();
        }
      },
    };
  });
}

describe('FileAdapter directory', () => {
  it('holds a lock, a node id and, once written to, one write-ahead log; the lock goes away on close', async () => {
    const { dir, cleanup } = tempDir('koru-file-');
    try {
      const s = await CausalStorage.open({ adapter: new FileAdapter(join(dir, 'nested', 'db')) });
      const db = join(dir, 'nested', 'db');
      // Opening writes nothing else: the write-ahead log is made by the first write.
      expect(dataFiles(db)).toEqual(['LOCK', 'NODE']);
      await s.put('n', 'k', 'v');
      expect(dataFiles(db)).toEqual(['00000001.kwal', '00000001.kwal.synced', 'LOCK', 'NODE']);
      expect(s.stats().diskBytes).toBeGreaterThan(16);
      await s.close();
      expect(existsSync(join(db, 'LOCK'))).toBe(false);
      const t = await CausalStorage.open({ adapter: new FileAdapter(db) });
      expect(t.recovery).toEqual({ replayed: 1 }); // one small write: left in the log at close, replayed
      expect(t.get('n', 'k')).toBe('v');
      await t.close();
    } finally {
      cleanup();
    }
  });
});
