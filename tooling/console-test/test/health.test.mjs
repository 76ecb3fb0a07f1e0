// The cluster and health page: a second `kdelta start` joins the first; the console of
// the first shows it as a healthy peer, the server's figures, and traffic that moves.
import { describe, expect, it } from 'vitest';
import { available, expectNoProblems, outOfSight, SIZES, startKdelta, useConsole } from './harness.mjs';

const suite = useConsole();

describe.skipIf(!available)('cluster and health in the console', () => {
  it('shows the server, its state root and metrics, and a joined member as a healthy peer with its lag and state root', async () => {
    const page = await suite.h.page('#/cluster');
    await expect.poll(() => page.getByText('No other members').count()).toBe(1);
    const status = await suite.h.client.serverStatus();
    expect(await page.locator('dl.meta').first().textContent()).toContain(status.node);
    expect(await page.getByText(status.stateRoot.slice(0, 12)).count()).toBe(1);
    const address = new URL(suite.h.url).host;
    const second = await startKdelta({ joinAddress: address });
    try {
      const peers = page.getByRole('table', { name: 'Peers' });
      await expect.poll(() => peers.locator('tbody tr').count(), { timeout: 30_000 }).toBe(1);
      await expect.poll(() => peers.locator('tbody tr').textContent(), { timeout: 30_000 }).toContain('healthy');
      expect(await peers.locator('tbody tr').textContent()).toContain(new URL(second.url).host);
      // Its lag, and its state root as anti-entropy last compared it with this server's.
      expect(await peers.locator('tbody tr td.num').first().textContent()).toMatch(/^[\d,]+ ms$/);
      await expect.poll(() => peers.locator('tbody tr').textContent(), { timeout: 30_000 }).toContain('same as this server');
      // Writes move the figures the page reads every 2 s.
      const before = (await suite.h.client.serverStatus()).versions;
      await suite.h.client.put('health', 'k', { v: 1 });
      await expect.poll(() => page.locator('.card', { hasText: 'Data' }).textContent(), { timeout: 10_000 }).toContain(`Versions${(before + 1).toLocaleString('en')}`);
      await suite.h.shot(page, 'cluster');
      // On a phone every figure of the peer is in sight, not in a table that scrolls sideways.
      await page.setViewportSize(SIZES.phone);
      expect(await outOfSight(page, 'table[aria-label="Peers"] :is(th, td)')).toEqual([]);
      await suite.h.shot(page, 'cluster-phone');
    } finally {
      await second.stop();
    }
    expectNoProblems(page);
  });
});
