// Namespaces and keys in the console: counts, pages of keys in key order, prefix search,
// and a new key written as compare-and-set.
import { describe, expect, it } from 'vitest';
import { available, expectNoProblems, useConsole } from './harness.mjs';

const suite = useConsole();

/** `n` keys `prefix00000`…, written in batches. */
async function writeKeys(ns, prefix, n) {
  for (let i = 0; i < n; i += 1000) {
    const items = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) items.push({ namespace: ns, key: `${prefix}${String(j).padStart(5, '0')}`, value: { j } });
    await suite.h.client.putMany(items);
  }
}

/** The keys the page lists now. */
async function shownKeys(page) {
  return page.locator('ul.keys li').allTextContents();
}

describe.skipIf(!available)('browsing in the console', () => {
  it('lists the namespaces with their live-key counts', async () => {
    await writeKeys('people', 'p', 3);
    await writeKeys('things', 't', 12);
    await suite.h.client.delete('things', 't00000');
    const page = await suite.h.page('#/');
    const rows = page.getByRole('row');
    await expect.poll(() => rows.allTextContents()).toEqual(expect.arrayContaining(['people3', 'things11']));
    await suite.h.shot(page, 'namespaces');
    await page.getByRole('link', { name: 'things' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('things');
    expectNoProblems(page);
  });

  it('pages through keys in order, back and forth, and every key appears exactly once', async () => {
    await writeKeys('many', 'k', 1234);
    const page = await suite.h.page('#/ns/many');
    await expect.poll(() => shownKeys(page)).toHaveLength(50);
    expect(await page.getByText('1,234 keys').count()).toBe(1);
    await suite.h.shot(page, 'keys');
    const seen = [...(await shownKeys(page))];
    const next = page.getByRole('button', { name: 'Next' });
    while (!(await next.isDisabled())) {
      const before = (await shownKeys(page))[0];
      await next.click();
      await expect.poll(async () => (await shownKeys(page))[0]).not.toBe(before);
      seen.push(...(await shownKeys(page)));
    }
    const all = Array.from({ length: 1234 }, (_, j) => `k${String(j).padStart(5, '0')}`);
    expect(seen).toEqual(all);
    await page.getByRole('button', { name: 'Previous' }).click();
    await expect.poll(async () => (await shownKeys(page))[0]).toBe('k01150');
    expectNoProblems(page);
  });

  it('searches keys by prefix', async () => {
    await writeKeys('search', 'a', 120);
    await suite.h.client.put('search', 'b-1', { x: 1 });
    await suite.h.client.put('search', 'b-2', { x: 2 });
    const page = await suite.h.page('#/ns/search');
    await expect.poll(() => shownKeys(page)).toHaveLength(50);
    await page.getByLabel('Keys starting with').fill('b-');
    await expect.poll(() => shownKeys(page)).toEqual(['b-1', 'b-2']);
    expect(await page.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);
    await page.getByLabel('Keys starting with').fill('a0011');
    await expect.poll(() => shownKeys(page)).toEqual(Array.from({ length: 10 }, (_, i) => `a0011${i}`));
    await page.getByLabel('Keys starting with').fill('zz');
    await expect.poll(() => page.getByText('No key starts with “zz”.').count()).toBe(1);
    await page.getByRole('link', { name: 'Namespaces' }).first().click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Namespaces');
    expectNoProblems(page);
  });

  it('creates a key from a namespace page, refusing one that exists', async () => {
    await suite.h.client.put('made', 'old', { v: 1 });
    const page = await suite.h.page('#/ns/made');
    // One key, not "1 keys".
    await expect.poll(() => page.getByText('1 key', { exact: true }).count()).toBe(1);
    await page.getByText('New key').click();
    await page.getByLabel('Key', { exact: true }).fill('old');
    await page.getByLabel('Value (JSON)').fill('{"v": 2}');
    await page.getByRole('button', { name: 'Create' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('already exists');
    expect(await suite.h.client.get('made', 'old')).toEqual({ v: 1 });
    await page.getByLabel('Key', { exact: true }).fill('new one/with slash');
    await page.getByRole('button', { name: 'Create' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('new one/with slash');
    expect(await suite.h.client.get('made', 'new one/with slash')).toEqual({ v: 2 });
    expectNoProblems(page);
  });
});
