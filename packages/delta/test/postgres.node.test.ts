// The KoruDelta conformance suite on the PostgreSQL store (a private PostgreSQL server,
// a fresh database for each test), so PostgreSQL answers exactly as the embedded engine.
// The differential model test against an embedded database is ./postgres-model.node.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable, startPostgres, type PgServer } from '@koru/vitest-preset/postgres';
import { KoruDelta, type Version } from '@koru/delta';
import { expectKoruError } from './support.js';
import { openDurable, openMemory, runDeltaConformance, type OpenDelta, type OpenedDelta } from './delta-conformance.js';
import { checkExportImport } from './delta-conformance-feed.js';

const pg = postgresAvailable();
if (!pg.available) console.log(`skipping the PostgreSQL conformance suite: ${pg.reason}`);

describe.skipIf(!pg.available)('PostgreSQL store', () => {
  let server: PgServer | undefined;
  beforeAll(async () => {
    // Commits need not wait for the disk here: the suite is about answers, not durability.
    server = await startPostgres({ settings: { synchronous_commit: 'off' } });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  const openPostgres: OpenDelta = async () => {
    const db = await KoruDelta.start({ store: await server!.createDatabase() });
    return { db, dispose: () => db.close() };
  };
  runDeltaConformance('PostgreSQL', openPostgres, {
    importInto: [
      ['memory', openMemory],
      ['durable', openDurable],
    ],
  });

  describe('from the embedded engine to PostgreSQL', () => {
    for (const [kind, open] of [
      ['memory', openMemory],
      ['durable', openDurable],
    ] as const) {
      it(`an export of an embedded ${kind} database imports into PostgreSQL with the same ids and answers`, async () => {
        const opened: OpenedDelta[] = [await open()];
        try {
          await checkExportImport(opened[0]!.db, [['PostgreSQL', openPostgres]], async (o) => {
            const x = await o();
            opened.push(x);
            return x.db;
          });
        } finally {
          for (const o of opened.reverse()) await o.dispose();
        }
      });
    }
  });

  describe('what PostgreSQL does differently, as documented', () => {
    it('the embedded engine, retention, purge, sync and stateRoot answer UNSUPPORTED; nodeId is new at each start; nothing is replayed', async () => {
      const url = await server!.createDatabase();
      const db = await KoruDelta.start({ store: url });
      try {
        await db.put('a', 'k', 1);
        expect(() => db.storage).toThrow(expect.objectContaining({ code: 'UNSUPPORTED' }));
        await expectKoruError(() => db.stateRoot(), 'UNSUPPORTED');
        await expectKoruError(() => db.setRetention('a', { lastVersions: 1 }), 'UNSUPPORTED');
        await expectKoruError(() => db.purge('a', 'k'), 'UNSUPPORTED');
        await expectKoruError(() => db.sync('ws://127.0.0.1:1'), 'UNSUPPORTED');
        expect(await db.retention('a')).toEqual({ keep: 'all' });
        expect(db.recovery).toEqual({ replayed: 0 });
        const again = await KoruDelta.start({ store: url });
        try {
          expect(again.nodeId).not.toBe(db.nodeId);
          expect(await again.get('a', 'k')).toBe(1);
          expect((await again.put('a', 'k', 2)).node).toBe(again.nodeId);
        } finally {
          await again.close();
        }
      } finally {
        await db.close();
      }
    });

    // The embedded engine keeps index and view definitions as versions of its reserved
    // namespace `_koru`, and a whole-database export carries them; PostgreSQL keeps them in
    // tables (koru_indexes, koru_views): its import checks each record as embedded does and
    // applies it. (The other way, PostgreSQL's export carries no definitions.)
    it('a whole-database export of an embedded database with an index and a view imports into PostgreSQL', async () => {
      const embedded = await KoruDelta.start();
      const db = await KoruDelta.start({ store: await server!.createDatabase() });
      try {
        await embedded.put('a', 'k', { v: 1 });
        await embedded.createIndex('a', 'v');
        await embedded.createView({ name: 'ones', namespace: 'a', query: { filter: { v: 1 } } });
        const exported: Version[] = [];
        for await (const v of embedded.exportVersions()) exported.push(v);
        expect(await db.importVersions(exported)).toBe(exported.length);
        expect(await db.get('a', 'k')).toEqual({ v: 1 });
        expect((await db.listIndexes('a')).map((i) => i.field)).toEqual(['v']);
        expect((await db.queryView('ones')).rows.map((r) => r.key)).toEqual(['k']);
        expect((await db.query('a', { filter: { v: 1 } })).explain.strategy).toBe('index');
        // Again: nothing new.
        expect(await db.importVersions(exported)).toBe(0);
        // A record of the reserved namespace that is no definition is refused, nothing stored.
        const bad = { ...exported.find((v) => v.namespace === '_koru')!, key: 'other:x' };
        await expect(db.importVersions([bad])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      } finally {
        await db.close();
        await embedded.close();
      }
    });

    // PostgreSQL's `#>` reads a segment like `-1` or `01` as an array position, where
    // KoruDelta reads an object key: such a path goes through koru_path instead.
    it('createIndex takes a path with a segment like -1 or 01', async () => {
      const db = await KoruDelta.start({ store: await server!.createDatabase() });
      try {
        await db.put('a', 'k', { a: { '-1': 5, '01': 6 } });
        for (const field of ['a.-1', 'a.01']) expect((await db.createIndex('a', field)).field).toBe(field);
        expect((await db.query('a', { filter: { 'a.-1': 5 } })).rows.map((r) => r.key)).toEqual(['k']);
      } finally {
        await db.close();
      }
    });

    // A DIFFERENCE, not yet fixed: the embedded engine imports a version whose predecessor
    // it holds anywhere in the key's history, or a second first version of a key (a fork,
    // as replication merges it: clock order picks the head); PostgreSQL takes only a
    // version that chains on the key's head, and refuses the rest (INVALID_ARGUMENT).
    it.fails('importVersions takes a fork of a key, as embedded', async () => {
      const one = await KoruDelta.start();
      const two = await KoruDelta.start();
      const db = await KoruDelta.start({ store: await server!.createDatabase() });
      try {
        const a = await one.put('f', 'k', 'from one');
        const b = await two.put('f', 'k', 'from two');
        expect(await db.importVersions([a])).toBe(1);
        expect(await db.importVersions([b])).toBe(1);
        expect((await db.history('f', 'k')).map((v) => v.versionId).sort()).toEqual([a.versionId, b.versionId].sort());
      } finally {
        await db.close();
        await one.close();
        await two.close();
      }
    });
  });
});
