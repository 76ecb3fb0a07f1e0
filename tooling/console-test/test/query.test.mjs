// The query editor, views and indexes in the console, against a real `kdelta start`.
import { describe, expect, it } from 'vitest';
import { available, expectNoProblems, expectReadable, outOfSight, SIZES, useConsole } from './harness.mjs';

const suite = useConsole();

const PEOPLE = [
  ['ada', { name: 'Ada', age: 36, city: 'London' }],
  ['bo', { name: 'Bo', age: 25, city: 'Oslo' }],
  ['cy', { name: 'Cy', age: 41, city: 'Oslo' }],
  ['di', { name: 'Di', age: 52, city: 'Rome' }],
];

async function seed() {
  const before = new Date();
  for (const [key, value] of PEOPLE) await suite.h.client.put('people', key, value);
  return before;
}

describe.skipIf(!available)('the query editor', () => {
  it('runs a filter with sort, limit and projection; shows the explain; points at a mistake by column', async () => {
    await seed();
    const page = await suite.h.page('#/query/people');
    await expect.poll(() => page.getByLabel('Namespace').inputValue()).toBe('people');
    await page.getByLabel('Filter').fill('age >');
    await expect.poll(() => page.locator('#q-filter-check').textContent()).toMatch(/column 6/);
    expect(await page.locator('pre.caret').textContent()).toBe('age >\n     ^');
    expect(await page.getByRole('button', { name: 'Run' }).isDisabled()).toBe(true);
    await page.getByLabel('Filter').fill('age > 30 and city = "Oslo" or city = Rome');
    await page.getByLabel('Sort').fill('age:desc');
    await page.getByLabel('Fields').fill('name, age');
    await page.getByLabel('Limit').fill('5');
    await page.getByLabel('Filter').press('Control+Enter');
    const table = page.getByRole('table', { name: 'Query results' });
    await expect.poll(() => table.locator('tbody tr').count()).toBe(2);
    expect(await table.locator('tbody tr').allTextContents()).toEqual(['diDi52', 'cyCy41']);
    expect(await table.locator('thead th').allTextContents()).toEqual(['key', 'name', 'age']);
    expect(await page.locator('p.explain').textContent()).toMatch(/2 of 2 matching documents · full scan · 4 examined/);
    await suite.h.shot(page, 'query');
    await page.getByLabel('JSON').check();
    await expect.poll(() => page.getByRole('list', { name: 'Query results' }).textContent()).toContain('"Di"');
    // A mistake only the server can see is shown as the server's error.
    await page.getByLabel('Filter').fill('name ~ "(a"');
    await page.getByRole('button', { name: 'Run' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('INVALID_QUERY');
    expectNoProblems(page);
  });

  it('aggregates, grouped, and shows results and documents as of an earlier moment', async () => {
    const c = suite.h.client;
    await c.put('temps', 'a', { city: 'Oslo', t: 1 });
    await c.put('temps', 'b', { city: 'Oslo', t: 3 });
    const mid = await c.put('temps', 'c', { city: 'Rome', t: 7 });
    // A later millisecond: "as of" reads to the millisecond, so this is after `mid`.
    await new Promise((r) => setTimeout(r, 2));
    await c.put('temps', 'a', { city: 'Oslo', t: 100 });
    const page = await suite.h.page('#/query/temps');
    await page.getByLabel('Aggregate').selectOption('avg');
    await page.getByLabel('of field').fill('t');
    await page.getByLabel('group by').fill('city');
    await page.getByRole('button', { name: 'Run' }).click();
    const agg = page.getByRole('list', { name: 'Aggregate' });
    await expect.poll(() => agg.textContent()).toContain('51.5');
    // As of the moment of `mid`: a's first version.
    await page.getByLabel('As of (UTC)').fill(mid.timestamp.replace('Z', ''));
    await page.getByLabel('As of (UTC)').dispatchEvent('change');
    await page.getByRole('button', { name: 'Run' }).click();
    await expect.poll(() => agg.textContent()).toContain('value: 2');
    expect(await page.locator('p.explain').textContent()).toContain(`as of ${mid.timestamp.replace('T', ' ').replace('Z', '')}`);
    await suite.h.shot(page, 'query-aggregate');
    // The namespace's documents themselves, as of that moment: a's first value.
    await page.getByRole('combobox', { name: 'Aggregate' }).selectOption('');
    await page.getByRole('button', { name: 'Run' }).click();
    const table = page.getByRole('table', { name: 'Query results' });
    await expect.poll(() => table.locator('tbody tr').allTextContents()).toEqual(['aOslo1', 'bOslo3', 'cRome7']);
    await page.getByRole('button', { name: 'Now' }).click();
    await page.getByRole('button', { name: 'Run' }).click();
    await expect.poll(() => table.locator('tbody tr').allTextContents()).toEqual(['aOslo100', 'bOslo3', 'cRome7']);
    expectNoProblems(page);
  });

  it('saves a query as a view, then lists, shows, refreshes and deletes it; creates and drops an index', async () => {
    const c = suite.h.client;
    await c.put('shop', 'p1', { price: 5, kind: 'tea' });
    await c.put('shop', 'p2', { price: 12, kind: 'tea' });
    const page = await suite.h.page('#/query/shop');
    await page.getByLabel('Filter').fill('price > 10');
    await page.getByRole('button', { name: 'Run' }).click();
    await expect.poll(() => page.getByRole('table', { name: 'Query results' }).locator('tbody tr').count()).toBe(1);
    expect(await page.locator('p.explain').textContent()).toMatch(/^1 of 1 matching document · /);
    await page.getByText('Save as a view').click();
    await page.getByLabel('View name').fill('dear-tea');
    await page.getByRole('button', { name: 'Save view' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Saved as view' }).count()).toBe(1);
    expect((await c.listViews()).map((v) => v.name)).toContain('dear-tea');
    await page.getByRole('link', { name: 'Open views' }).click();
    await page.getByRole('button', { name: 'Show dear-tea' }).click();
    await expect.poll(() => page.getByRole('table', { name: 'View dear-tea' }).locator('tbody tr').count()).toBe(1);
    await c.put('shop', 'p3', { price: 30, kind: 'tea' });
    await page.getByRole('button', { name: 'Refresh dear-tea' }).click();
    await expect.poll(() => page.getByRole('table', { name: 'View dear-tea' }).locator('tbody tr').count()).toBe(2);
    // Indexes.
    await page.getByLabel('Namespace').fill('shop');
    await page.getByLabel('Field').fill('price');
    await page.getByRole('button', { name: 'Create index' }).click();
    await expect.poll(() => page.getByRole('table', { name: 'Indexes' }).textContent()).toContain('price');
    expect((await c.listIndexes('shop')).map((i) => i.field)).toEqual(['price']);
    await suite.h.shot(page, 'views');
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Drop the index on shop price' }).click();
    await expect.poll(async () => (await c.listIndexes('shop')).length).toBe(0);
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete dear-tea' }).click();
    await expect.poll(async () => (await c.listViews()).map((v) => v.name)).not.toContain('dear-tea');
    expectNoProblems(page);
  });

  it('on a phone, shows every view and index with its buttons in sight, not in a table that scrolls sideways', async () => {
    const c = suite.h.client;
    await c.put('cellar', 'w1', { year: 1999, region: 'Douro' });
    await c.createView({ name: 'old-wine', namespace: 'cellar', query: { filter: { year: { $lt: 2000 } } }, autoRefresh: true });
    await c.createIndex('cellar', 'region');
    for (const colorScheme of ['light', 'dark']) {
      const page = await suite.h.page('#/views', { ...SIZES.phone, colorScheme });
      await expect.poll(() => page.getByRole('button', { name: 'Show old-wine' }).count()).toBe(1);
      await expect.poll(() => page.getByRole('button', { name: 'Drop the index on cellar region' }).count()).toBe(1);
      expect(await outOfSight(page, 'table[aria-label="Views"] :is(th, td, button)')).toEqual([]);
      expect(await outOfSight(page, 'table[aria-label="Indexes"] :is(th, td, button)')).toEqual([]);
      await expectReadable(page, `views, ${colorScheme}, phone`);
      // Still a table to a screen reader: the cells keep their column's name.
      expect(await page.getByRole('cell', { name: 'on every write' }).count()).toBe(1);
      await page.getByRole('button', { name: 'Show old-wine' }).click();
      await expect.poll(() => page.getByRole('table', { name: 'View old-wine' }).locator('tbody tr').count()).toBe(1);
      await suite.h.shot(page, `views-listed-${colorScheme}-phone`);
      expectNoProblems(page);
      await page.context().close();
    }
  });
});
