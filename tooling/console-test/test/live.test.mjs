// The live change feed in the console: other clients' writes stream in, a pause loses
// nothing, a replay starts after any change number, a namespace narrows it.
import { describe, expect, it } from 'vitest';
import { available, expectNoProblems, useConsole } from './harness.mjs';

const suite = useConsole();

/** The change numbers on screen, oldest first. */
async function seqs(page) {
  return (await page.locator('table.feed tbody tr td:first-child').allTextContents()).map(Number).reverse();
}

describe.skipIf(!available)('the live feed', () => {
  it('streams writes from another client, and a pause then resume loses none', async () => {
    const c = suite.h.client;
    const page = await suite.h.page('#/live');
    // Subscribed once the page names the change it watches after.
    await expect.poll(() => page.locator('main').getByRole('status').textContent()).toMatch(/Watching every namespace, after change \d+/);
    const first = await c.put('feed', 'a', { n: 1 });
    await expect.poll(() => page.locator('table.feed tbody tr').count()).toBe(1);
    expect(await page.locator('table.feed tbody tr').first().textContent()).toContain(first.versionId.slice(0, 12));
    await page.getByRole('button', { name: 'Pause' }).click();
    await expect.poll(() => page.locator('main').getByRole('status').textContent()).toContain('Paused');
    const during = [];
    for (let i = 0; i < 5; i++) during.push(await c.put('feed', `p${i}`, { i }));
    await page.waitForTimeout(200);
    expect(await page.locator('table.feed tbody tr').count()).toBe(1);
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => page.locator('table.feed tbody tr').count()).toBe(6);
    const shown = await seqs(page);
    expect(shown).toEqual(Array.from({ length: 6 }, (_, i) => shown[0] + i));
    await c.delete('feed', 'a');
    await expect.poll(() => page.locator('table.feed tbody tr').first().textContent()).toContain('delete');
    await suite.h.shot(page, 'live');
    expectNoProblems(page);
  });

  it('replays after a change number and narrows to a namespace', async () => {
    const c = suite.h.client;
    const base = await c.currentSeq();
    await c.put('one', 'x', { v: 1 });
    await c.put('two', 'y', { v: 2 });
    await c.put('one', 'z', { v: 3 });
    const page = await suite.h.page('#/live');
    await page.getByLabel('Namespace').fill('one');
    await page.getByLabel('Replay after change').fill(String(base));
    await page.getByRole('button', { name: 'Start' }).click();
    await expect.poll(() => seqs(page)).toEqual([base + 1, base + 3]);
    await page.getByLabel('Replay after change').fill('-1');
    await page.getByRole('button', { name: 'Start' }).click();
    await expect.poll(() => page.locator('main').getByRole('status').textContent()).toContain('whole number');
    expectNoProblems(page);
  });
});
