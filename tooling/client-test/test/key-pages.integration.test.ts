// listKeys pages and countKeys answer alike on the embedded handle and on a KoruClient
// over a real server process: the same pages, counts and refusals.
import { afterAll, describe, expect, test } from 'vitest';
import { KoruClient, type ListKeysOptions } from '@koru/client';
import { KoruDelta } from '@koru/delta';
import type { KoruApi } from './conformance.js';
import { rejectsWith, startServer, stopAllServers } from './support.js';

afterAll(stopAllServers);

const handles: Array<[string, () => Promise<{ db: KoruApi; dispose: () => Promise<void> }>]> = [
  ['KoruDelta (embedded)', async () => {
    const db = await KoruDelta.start();
    return { db, dispose: () => db.close() };
  }],
  ['KoruClient ↔ koru-server', async () => {
    const server = await startServer();
    const client = await KoruClient.connect(server.url);
    return {
      db: client,
      dispose: async () => {
        await client.close();
        expect(await server.stop('SIGTERM')).toBe(0);
      },
    };
  }],
];

describe.each(handles)('listKeys pages and countKeys: %s', (_label, open) => {
  test('pages chained by the last key list every live key once; counts follow writes and deletes', async () => {
    const { db, dispose } = await open();
    try {
      const keys = Array.from({ length: 120 }, (_, i) => `item-${String(i).padStart(3, '0')}`);
      await db.putMany(keys.map((key, i) => ({ namespace: 'items', key, value: i })));
      await db.put('items', 'other', 1);
      // A run of tombstones longer than a page: pages still come back full.
      for (const k of keys.slice(10, 40)) await db.delete('items', k);
      const live = [...keys.slice(0, 10), ...keys.slice(40)];
      expect(await db.countKeys('items')).toBe(91);
      expect(await db.countKeys('nothing')).toBe(0);

      const pages: string[][] = [];
      for (let after: string | undefined; ; ) {
        const page = await db.listKeys('items', { prefix: 'item-', limit: 25, ...(after !== undefined ? { after } : {}) });
        pages.push(page);
        if (page.length < 25) break;
        after = page.at(-1);
      }
      expect(pages.map((p) => p.length)).toEqual([25, 25, 25, 15]);
      expect(pages.flat()).toEqual(live);
      expect(await db.listKeys('items', { prefix: 'item-1', after: 'item-117' })).toEqual(['item-118', 'item-119']);
      expect(await db.listKeys('items', { after: 'item-119' })).toEqual(['other']);
      expect(await db.listKeys('items', { prefix: 'item-', limit: 2, after: 'a' })).toEqual(['item-000', 'item-001']);
      expect(await db.listKeys('items')).toEqual([...live, 'other']);

      await db.delete('items', 'other');
      expect(await db.countKeys('items')).toBe(90);
    } finally {
      await dispose();
    }
  });

  test('bad options and names are refused with the same codes', async () => {
    const { db, dispose } = await open();
    try {
      await db.put('items', 'a', 1);
      const e = await rejectsWith(db.listKeys('items', { cursor: 'a' } as unknown as ListKeysOptions), 'INVALID_ARGUMENT', /unknown listKeys option "cursor"/);
      expect(e.name).toBe('InvalidArgumentError');
      await rejectsWith(db.listKeys('items', { limit: 0 }), 'INVALID_ARGUMENT', /limit/);
      await rejectsWith(db.listKeys('items', { limit: 100_001 }), 'INVALID_ARGUMENT');
      await rejectsWith(db.listKeys('items', { limit: '5' } as unknown as ListKeysOptions), 'INVALID_ARGUMENT');
      await rejectsWith(db.listKeys('items', { prefix: 7 } as unknown as ListKeysOptions), 'INVALID_ARGUMENT');
      await rejectsWith(db.listKeys('items', 'a' as unknown as ListKeysOptions), 'INVALID_ARGUMENT');
      await rejectsWith(db.listKeys('_koru', { limit: 1 }), 'INVALID_NAMESPACE');
      await rejectsWith(db.countKeys('bad ns'), 'INVALID_NAMESPACE');
    } finally {
      await dispose();
    }
  });
});
