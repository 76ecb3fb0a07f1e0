// A key's page in the console, driven by clicks and keys in Chromium against a real
// `kdelta start`: the value as a tree, time travel, the history and its check, the diff,
// and edits that are compare-and-set.
import { describe, expect, it } from 'vitest';
import { available, expectNoProblems, useConsole } from './harness.mjs';

const suite = useConsole();

/**
 * Writes `values` in order as the versions of ns/key, each in a later millisecond than
 * the one before (the time field reads to the millisecond: two versions in one would be
 * one moment); returns the versions.
 */
async function writeVersions(ns, key, values) {
  const out = [];
  for (const v of values) {
    if (out.length > 0) await new Promise((r) => setTimeout(r, 2));
    out.push(await suite.h.client.put(ns, key, v));
  }
  return out;
}

describe.skipIf(!available)('a key in the console', () => {
  it('shows the current value as a tree that folds, with its version, and copies it', async () => {
    const [, v2] = await writeVersions('users', 'ada', [{ name: 'Ada', langs: ['en'] }, { name: 'Ada L', langs: ['en', 'fr'], address: { city: 'London' } }]);
    const page = await suite.h.page('#/ns/users/k/ada/value');
    await expect.poll(() => page.locator('dl.meta code').first().textContent()).toBe(v2.versionId.slice(0, 12));
    const tree = page.getByRole('list', { name: 'Value' });
    await expect.poll(() => tree.textContent()).toContain('"London"');
    await suite.h.shot(page, 'key-value');
    // Folding a node hides its children; the summary is a native <details>, so Enter works.
    await page.locator('[data-path="/address"] > details > summary').focus();
    await page.keyboard.press('Enter');
    expect(await page.locator('[data-path="/address/city"]').isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Copy Value as JSON' }).click();
    expect(JSON.parse(await page.evaluate(() => navigator.clipboard.readText()))).toEqual(v2.value);
    // Each object and array has its own copy button, a folded one too.
    expect(await page.getByRole('button', { name: /^Copy \/.* of Value as JSON$/ }).count()).toBe(2);
    await page.getByRole('button', { name: 'Copy /address of Value as JSON' }).click();
    expect(JSON.parse(await page.evaluate(() => navigator.clipboard.readText()))).toEqual({ city: 'London' });
    await page.getByRole('button', { name: 'Copy /langs of Value as JSON' }).focus();
    await page.keyboard.press('Enter');
    expect(JSON.parse(await page.evaluate(() => navigator.clipboard.readText()))).toEqual(['en', 'fr']);
    expectNoProblems(page);
  });

  it('travels in time: the slider and the time field show the value as it was', async () => {
    const vs = await writeVersions('travel', 'doc', [{ step: 1 }, { step: 2 }, { step: 3 }]);
    const page = await suite.h.page('#/ns/travel/k/doc/value');
    const tree = page.getByRole('list', { name: 'Value' });
    await expect.poll(() => tree.textContent()).toContain('step: 3');
    const slider = page.getByLabel('Version', { exact: true });
    await slider.focus();
    await page.keyboard.press('Home');
    await expect.poll(() => tree.textContent()).toContain('step: 1');
    await expect.poll(() => page.locator('p', { hasText: /^As of / }).textContent()).toContain(vs[0].timestamp.replace('T', ' ').replace('Z', ''));
    await suite.h.shot(page, 'key-time-travel');
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => tree.textContent()).toContain('step: 2');
    // Any moment: the time field reads the version current then (getAt), here the second's time.
    await page.getByRole('button', { name: 'Now' }).click();
    await expect.poll(() => tree.textContent()).toContain('step: 3');
    await page.getByLabel('As of (UTC)').fill(vs[1].timestamp.replace('Z', ''));
    await page.getByLabel('As of (UTC)').dispatchEvent('change');
    await expect.poll(() => tree.textContent()).toContain('step: 2');
    expectNoProblems(page);
  });

  it('lists the history as a hash chain, verifies it in the page, and compares two versions', async () => {
    const vs = await writeVersions('chain', 'k', [{ a: 1 }, { a: 2, b: true }, { a: 3 }]);
    await suite.h.client.delete('chain', 'k');
    const page = await suite.h.page('#/ns/chain/k/k/history');
    const items = page.getByRole('list', { name: 'Versions of k, newest first' }).locator(':scope > li');
    await expect.poll(() => items.count()).toBe(4);
    // Newest first; each names the one it superseded.
    expect(await items.nth(0).textContent()).toContain('deleted');
    expect(await items.nth(1).textContent()).toContain(vs[2].versionId.slice(0, 12));
    expect(await items.nth(1).textContent()).toContain(vs[1].versionId.slice(0, 12));
    expect(await items.nth(3).textContent()).toContain('none (first)');
    expect(await items.nth(2).textContent()).toContain(vs[1].hlc);
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Verified' }).count()).toBe(1);
    expect(await page.getByText('✓ ids and link verified').count()).toBe(4);
    await suite.h.shot(page, 'key-history');
    await items.nth(3).getByRole('checkbox').check();
    await items.nth(1).getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Compare selected' }).click();
    await expect.poll(() => page.url()).toContain(`from=${vs[0].versionId}`);
    const changes = page.getByRole('list', { name: 'Changed paths' });
    await expect.poll(() => changes.textContent()).toContain('/a');
    expectNoProblems(page);
  });

  it('diffs the latest version against the one before by default, marks the changed paths, and lets any two be picked', async () => {
    const vs = await writeVersions('diffs', 'cfg', [{ mode: 'a', keep: 1 }, { mode: 'b', keep: 1, added: [1] }, { mode: 'c', keep: 1 }]);
    const page = await suite.h.page('#/ns/diffs/k/cfg/diff');
    const changes = page.getByRole('list', { name: 'Changed paths' });
    await expect.poll(() => changes.textContent()).toContain('/mode');
    expect(await changes.textContent()).toContain('removed');
    expect(await changes.textContent()).toContain('/added');
    // Marked on both sides.
    expect(await page.getByRole('list', { name: 'Value before' }).locator('.mark-changed[data-path="/mode"]').count()).toBe(1);
    expect(await page.getByRole('list', { name: 'Value after' }).locator('.mark-changed[data-path="/mode"]').count()).toBe(1);
    expect(await page.getByRole('list', { name: 'Value before' }).locator('.mark-removed[data-path="/added"]').count()).toBe(1);
    expect(await page.getByRole('list', { name: 'Value after' }).locator('[data-path="/keep"]').getAttribute('class')).toBe('j-node');
    await suite.h.shot(page, 'key-diff');
    await page.getByLabel('From').selectOption(vs[0].versionId);
    await expect.poll(() => changes.textContent()).not.toContain('/added');
    expect(await changes.textContent()).toContain('/mode');
    expectNoProblems(page);
  });

  it('saves an edit as compare-and-set: valid JSON only, refused when the key changed meanwhile, nothing overwritten', async () => {
    const [v1] = await writeVersions('edits', 'e', [{ n: 1 }]);
    const page = await suite.h.page('#/ns/edits/k/e/edit');
    const box = page.getByLabel('Value (JSON)');
    await expect.poll(() => box.inputValue()).toContain('"n": 1');
    await box.fill('{\n  "n": 2,\n}');
    await expect.poll(() => page.locator('#edit-check').textContent()).toMatch(/line 3, column 1/);
    expect(await page.getByRole('button', { name: 'Save' }).isDisabled()).toBe(true);
    await box.fill('{"n": 2}');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Saved as version' }).count()).toBe(1);
    expect((await suite.h.client.get('edits', 'e')).n).toBe(2);
    await suite.h.shot(page, 'key-edit');
    // Another client writes; this editor's next save is refused and says so.
    const theirs = await suite.h.client.put('edits', 'e', { n: 'theirs' });
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('newer version');
    await box.fill('{"n": 3}');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'Not saved' }).count()).toBe(1);
    expect((await suite.h.client.getVersion('edits', 'e')).versionId).toBe(theirs.versionId);
    await suite.h.shot(page, 'key-edit-conflict');
    // Taking the newest version loads its value; saving then works.
    await page.getByRole('button', { name: 'Edit the newest version' }).click();
    await expect.poll(() => box.inputValue()).toContain('theirs');
    await box.fill('{"n": 4}');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(async () => (await suite.h.client.get('edits', 'e')).n).toBe(4);
    const history = await suite.h.client.history('edits', 'e');
    expect(history.map((v) => v.value.n)).toEqual([1, 2, 'theirs', 4]);
    expect(history[0].versionId).toBe(v1.versionId);
    expectNoProblems(page);
  });

  it('deletes with confirmation, as compare-and-set, and shows the tombstone in the history', async () => {
    await writeVersions('dels', 'd', [{ x: 1 }]);
    const page = await suite.h.page('#/ns/dels/k/d/edit');
    await expect.poll(() => page.getByLabel('Value (JSON)').inputValue()).toContain('"x": 1');
    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.dismiss();
    });
    await page.getByRole('button', { name: 'Delete' }).click();
    expect(asked).toContain('dels/d');
    expect(await suite.h.client.contains('dels', 'd')).toBe(true);
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => suite.h.client.contains('dels', 'd')).toBe(false);
    await expect.poll(() => page.url()).toContain('/history');
    await expect.poll(() => page.locator('ol.timeline > li.tombstone').count()).toBe(1);
    expectNoProblems(page);
  });

  it('refuses a delete when the key changed since the editor opened it, and deletes nothing', async () => {
    await writeVersions('dels', 'kept', [{ x: 1 }]);
    const page = await suite.h.page('#/ns/dels/k/kept/edit');
    await expect.poll(() => page.getByLabel('Value (JSON)').inputValue()).toContain('"x": 1');
    const theirs = await suite.h.client.put('dels', 'kept', { x: 'theirs' });
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'newer version' }).count()).toBe(1);
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => page.getByRole('alert').filter({ hasText: 'Not deleted' }).count()).toBe(1);
    expect(await suite.h.client.getVersion('dels', 'kept')).toMatchObject({ versionId: theirs.versionId, deleted: false });
    expect(page.url()).toContain('/edit');
    expectNoProblems(page);
  });

  it('shows a version written by another client in the open timeline without reloading', async () => {
    await writeVersions('live', 'k', [{ v: 1 }]);
    const page = await suite.h.page('#/ns/live/k/k/history');
    const items = page.locator('ol.timeline > li');
    await expect.poll(() => items.count()).toBe(1);
    expect(await page.getByRole('status').filter({ hasText: /^1 version$/ }).count()).toBe(1);
    const next = await suite.h.client.put('live', 'k', { v: 2 });
    await expect.poll(() => items.count()).toBe(2);
    expect(await page.getByRole('status').filter({ hasText: /^2 versions$/ }).count()).toBe(1);
    expect(await items.first().textContent()).toContain(next.versionId.slice(0, 12));
    expectNoProblems(page);
  });
});
