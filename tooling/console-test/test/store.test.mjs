// The console of a server on a PostgreSQL store: there is no state root to show (one
// shared copy, nothing to compare), so the health page shows "—", and no cluster.
import { postgresAvailable, startPostgres } from '@koru/vitest-preset/postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { available, expectNoProblems, useConsole } from './harness.mjs';

const pgTool = postgresAvailable();
if (!pgTool.available) console.log(`[console-test] store: skipped: ${pgTool.reason}`);

let pg;
const suite = pgTool.available
  ? useConsole({
      store: async () => {
        pg = await startPostgres();
        return pg.url;
      },
    })
  : { h: undefined };
afterAll(async () => {
  await pg?.stop();
});

describe.skipIf(!available || !pgTool.available)('the console of a server on a PostgreSQL store', () => {
  it('shows no state root and no cluster, and the store\'s figures', async () => {
    await suite.h.client.put('store', 'k', { v: 1 });
    const status = await suite.h.client.serverStatus();
    expect(status).toMatchObject({ stateRoot: null, cluster: null, adapter: 'postgres' });
    const page = await suite.h.page('#/cluster');
    const server = page.locator('dl.meta').first();
    await expect.poll(() => server.textContent()).toContain(status.node);
    expect(await server.textContent()).toContain('State root—');
    expect(await server.textContent()).toContain('none (servers share a PostgreSQL store)');
    // Not the embedded cluster's advice: --join is refused on a store.
    expect(await page.getByText('No cluster: servers on a PostgreSQL store share its data').count()).toBe(1);
    expect(await page.getByText('kdelta start --join').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Copy state root' }).count()).toBe(0);
    await expect.poll(() => page.locator('.card', { hasText: 'Data' }).textContent(), { timeout: 10_000 }).toContain('Versions1');
    await suite.h.shot(page, 'cluster-on-a-store');
    expectNoProblems(page);
  });
});
