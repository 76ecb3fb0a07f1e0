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

  it('replays after a change number, narrows to a namespace, and goes on after the last change shown in another', async () => {
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
    // Another namespace goes on after the last change shown: nothing shown twice or out of order.
    await page.getByLabel('Namespace').fill('two');
    await page.getByLabel('Namespace').blur();
    await expect.poll(() => page.locator('main').getByRole('status').textContent()).toContain(`Watching two, after change ${base + 3}`);
    await c.put('two', 'w', { v: 4 });
    await expect.poll(() => seqs(page)).toEqual([base + 1, base + 3, base + 4]);
    await page.getByLabel('Replay after change').fill('-1');
    await page.getByRole('button', { name: 'Start' }).click();
    await expect.poll(() => page.locator('main').getByRole('status').textContent()).toContain('whole number');
    expectNoProblems(page);
  });

  it('filters the feed by an expression on the new value and by change type, going on after the last change shown', async () => {
    const c = suite.h.client;
    const page = await suite.h.page('#/live');
    const status = page.locator('main').getByRole('status');
    const keys = () => page.locator('table.feed tbody tr td:nth-child(4)').allTextContents();
    await expect.poll(() => status.textContent()).toMatch(/Watching every namespace, after change \d+/);
    // A mistake is pointed at by column, and not applied.
    await page.getByLabel('Filter').fill('n >');
    await expect.poll(() => page.locator('#live-filter-check').textContent()).toMatch(/column 4/);
    expect(await page.getByLabel('Filter').getAttribute('aria-invalid')).toBe('true');
    await page.getByLabel('Filter').fill('n > 1');
    await page.getByLabel('Filter').press('Enter');
    await expect.poll(() => status.textContent()).toMatch(/Watching every namespace, where n > 1, after change \d+/);
    await c.put('flt', 'a', { n: 1 });
    await c.put('flt', 'b', { n: 2 });
    await c.put('flt', 'c', { n: 5 });
    await expect.poll(keys).toEqual(['flt/c', 'flt/b']);
    // Deletes only (a delete has no new value: it matches no filter, so the filter goes).
    await page.getByLabel('Filter').fill('');
    await page.getByLabel('Filter').press('Enter');
    await page.getByLabel('Inserts').uncheck();
    await page.getByLabel('Updates').uncheck();
    await expect.poll(() => status.textContent()).toMatch(/Watching every namespace, deletes only, after change \d+/);
    expect(await page.getByLabel('Deletes').isDisabled()).toBe(true);
    await c.put('flt', 'b', { n: 3 });
    await c.put('flt', 'd', { n: 4 });
    const gone = await c.delete('flt', 'a');
    await expect.poll(async () => (await keys())[0]).toBe('flt/a');
    expect(await keys()).toEqual(['flt/a', 'flt/c', 'flt/b']);
    expect(await page.locator('table.feed tbody tr').first().textContent()).toContain(gone.versionId.slice(0, 12));
    await suite.h.shot(page, 'live-filtered');
    expectNoProblems(page);
  });
});
