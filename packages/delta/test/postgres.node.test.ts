// The KoruDelta conformance suite on the PostgreSQL store (a private PostgreSQL server,
// a fresh database for each test), so PostgreSQL answers exactly as the embedded engine.
// The differential model test against an embedded database is ./postgres-model.node.test.ts.
import { afterAll, beforeAll, describe } from 'vitest';
import { postgresAvailable, startPostgres, type PgServer } from '@koru/vitest-preset/postgres';
import { KoruDelta } from '@koru/delta';
import { openDurable, openMemory, runDeltaConformance, type OpenDelta } from './delta-conformance.js';

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
});
