// Every page of the console for keyboard and screen-reader users, light and dark, from
// phone width to desktop: no serious axe-core violation, nothing wider than the screen,
// and the main flow done with the keyboard alone. Screenshots of each.
import { describe, expect, it } from 'vitest';
import { available, expectNoProblems, expectReadable, SIZES, useConsole } from './harness.mjs';

const suite = useConsole();

const PAGES = [
  ['namespaces', '#/'],
  ['keys', '#/ns/shop'],
  ['value', '#/ns/shop/k/cart-1/value'],
  ['history', '#/ns/shop/k/cart-1/history'],
  ['diff', '#/ns/shop/k/cart-1/diff'],
  ['edit', '#/ns/shop/k/cart-1/edit'],
  ['live', '#/live'],
  ['query', '#/query/shop'],
  ['views', '#/views'],
  ['cluster', '#/cluster'],
];

describe.skipIf(!available)('the console for every reader', () => {
  it('has no serious accessibility violation on any page, light or dark, phone or desktop, and never scrolls sideways', async () => {
    await suite.h.client.put('shop', 'cart-1', { items: [{ sku: 'a-1', n: 1 }], owner: 'ada' });
    await suite.h.client.put('shop', 'cart-1', { items: [{ sku: 'a-1', n: 2 }, { sku: 'b-7', n: 1 }], owner: 'ada', note: 'a rather long note to see that text wraps on a narrow screen instead of overflowing' });
    await suite.h.client.createIndex('shop', 'owner');
    await suite.h.client.createView({ name: 'carts', namespace: 'shop', query: { filter: { owner: 'ada' } } });
    for (const colorScheme of ['light', 'dark']) {
      for (const [size, { width, height }] of Object.entries(SIZES)) {
        for (const [name, hash] of PAGES) {
          const page = await suite.h.page(hash, { width, height, colorScheme });
          await expect.poll(() => page.locator('main h1').count()).toBeGreaterThan(0);
          await page.waitForLoadState('networkidle');
          await expect.poll(() => page.locator('[aria-busy="true"]').count()).toBe(0);
          await expect.poll(() => page.getByText('Loading…').count()).toBe(0);
          await expectReadable(page, `${name}, ${colorScheme}, ${size}`);
          await suite.h.shot(page, `${name}-${colorScheme}-${size}`);
          expectNoProblems(page);
          await page.context().close();
        }
      }
    }
  });

  it('is usable with the keyboard alone: skip link, namespace, key, its tabs, the chain check', async () => {
    await suite.h.client.put('kbd', 'only-key', { hello: 'keyboard' });
    const page = await suite.h.page('#/');
    await expect.poll(() => page.getByRole('link', { name: 'kbd' }).count()).toBe(1);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    // From the main region, Tab reaches the namespace links in order.
    let found = false;
    for (let i = 0; i < 20 && !found; i++) {
      await page.keyboard.press('Tab');
      found = (await page.evaluate(() => document.activeElement?.textContent)) === 'kbd';
    }
    expect(found).toBe(true);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('kbd');
    found = false;
    for (let i = 0; i < 20 && !found; i++) {
      await page.keyboard.press('Tab');
      found = (await page.evaluate(() => document.activeElement?.textContent)) === 'only-key';
    }
    expect(found).toBe(true);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('list', { name: 'Value' }).textContent()).toContain('keyboard');
    // Focus moved to the new page's main region, as a page load would.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    // The key's tabs and the history's check, by keys too.
    const tabTo = async (text) => {
      for (let i = 0; i < 30; i++) {
        await page.keyboard.press('Tab');
        if ((await page.evaluate(() => document.activeElement?.textContent)) === text) return true;
      }
      return false;
    };
    expect(await tabTo('History')).toBe(true);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('ol.timeline > li').count()).toBe(1);
    expect(await tabTo('Verify chain')).toBe(true);
    await page.keyboard.press('Space');
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Verified: 1 version' }).count()).toBe(1);
    expectNoProblems(page);
  });

  it('on a phone, keeps the brand, the link state and Sign out on one line, the page links in rows under them', async () => {
    const page = await suite.h.page('#/', SIZES.phone);
    const signOut = page.getByRole('button', { name: 'Sign out' });
    await expect.poll(() => signOut.count()).toBe(1);
    const box = (l) => l.boundingBox();
    const brand = await box(page.getByRole('link', { name: 'KoruDelta' }));
    const out = await box(signOut);
    // One line: the button's middle is within the brand's line.
    expect(Math.abs(out.y + out.height / 2 - (brand.y + brand.height / 2))).toBeLessThan(brand.height / 2);
    const links = page.getByRole('navigation', { name: 'Console' }).getByRole('link');
    const tops = new Set();
    for (const l of await links.all()) {
      const b = await box(l);
      expect(b.y).toBeGreaterThan(brand.y + brand.height / 2);
      tops.add(Math.round(b.y));
    }
    // Five links in rows, not one a line.
    expect(tops.size).toBeLessThanOrEqual(2);
    await suite.h.shot(page, 'header-phone');
    expectNoProblems(page);
  });
});
