// A private PostgreSQL for a test file (the harness in @koru/vitest-preset/postgres),
// a fresh database per test, and every store opened closed afterwards.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { postgresAvailable, startPostgres, type PgServer } from '@koru/vitest-preset/postgres';
import { PostgresStore, type PostgresStoreOptions } from '../src/index.js';

export const pgTool = postgresAvailable();
if (!pgTool.available) console.log(`[postgres] skipped: ${pgTool.reason}`);

/** The file's server, and a store factory on fresh databases. */
export function usePostgres(): { server: () => PgServer; fresh: () => Promise<string>; open: (url: string, options?: PostgresStoreOptions) => Promise<PostgresStore> } {
  let server: PgServer | undefined;
  const opened: PostgresStore[] = [];
  beforeAll(async () => {
    if (pgTool.available) server = await startPostgres();
  }, 120_000);
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close().catch(() => undefined);
  });
  afterAll(async () => {
    await server?.stop();
  }, 60_000);
  return {
    server: () => server!,
    fresh: () => server!.createDatabase(),
    open: async (url, options = {}) => {
      const s = await PostgresStore.open(url, { pollMs: 200, ...options });
      opened.push(s);
      return s;
    },
  };
}

/** The code a promise rejects with. */
export async function rejectionCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? `not a KoruError: ${String(e)}`;
  }
  throw new Error('expected the promise to reject');
}
