// Signing in to a console whose server has a token: refused with a wrong one, kept in the
// tab's session storage (never in the URL), gone after signing out.
import { describe, expect, it } from 'vitest';
import { available, expectNoProblems, expectReadable, SIZES, useConsole } from './harness.mjs';

const TOKEN = 'console-test-token-8f3a';
const suite = useConsole({ token: TOKEN });

describe.skipIf(!available)('signing in to the console', () => {
  it('asks for the token, refuses a wrong one, and keeps a right one in session storage only', async () => {
    await suite.h.client.put('secret', 'k', { v: 1 });
    const page = await suite.h.page('#/');
    // Every address the page asks for, its WebSocket's too: the token is in none of them.
    const asked = [];
    page.on('request', (r) => asked.push(r.url()));
    page.on('websocket', (w) => asked.push(w.url()));
    const token = page.getByLabel('Token');
    await expect.poll(() => token.count()).toBe(1);
    await suite.h.shot(page, 'sign-in');
    await token.fill('wrong-token');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('refused');
    expect(await page.getByRole('link', { name: 'secret' }).count()).toBe(0);
    await page.getByLabel('Token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('link', { name: 'secret' }).count()).toBe(1);
    expect(page.url()).not.toContain(TOKEN);
    expect(asked.some((u) => u.startsWith('ws'))).toBe(true);
    expect(asked.filter((u) => u.includes(TOKEN))).toEqual([]);
    expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([TOKEN]);
    expect(await page.evaluate(() => Object.keys(localStorage).length)).toBe(0);
    // A reload stays signed in (same tab); signing out forgets the token.
    await page.reload();
    await expect.poll(() => page.getByRole('link', { name: 'secret' }).count()).toBe(1);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => page.getByLabel('Token').count()).toBe(1);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.reload();
    await expect.poll(() => page.getByLabel('Token').count()).toBe(1);
    expectNoProblems(page);
  });

  it('is readable by everyone: no serious accessibility violation, light or dark, phone or desktop, with the refusal shown', async () => {
    for (const colorScheme of ['light', 'dark']) {
      for (const [size, { width, height }] of Object.entries(SIZES)) {
        const page = await suite.h.page('#/', { width, height, colorScheme });
        await expect.poll(() => page.getByLabel('Token').count()).toBe(1);
        await page.getByLabel('Token').fill('wrong-token');
        await page.keyboard.press('Enter');
        await expect.poll(() => page.getByRole('alert').count()).toBe(1);
        await expectReadable(page, `sign-in, ${colorScheme}, ${size}`);
        // The button stands apart from the field, not glued to it.
        const field = await page.getByLabel('Token').boundingBox();
        const button = await page.getByRole('button', { name: 'Sign in' }).boundingBox();
        expect(button.x >= field.x + field.width + 4 || button.y >= field.y + field.height + 4, `sign-in, ${size}: the button apart from the field`).toBe(true);
        await suite.h.shot(page, `sign-in-${colorScheme}-${size}`);
        expectNoProblems(page);
        await page.context().close();
      }
    }
  });
});
