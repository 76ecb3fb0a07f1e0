// @koru/storage/browser in a real headless Chromium, on both backends: OPFS (sync
// access handles, in a dedicated worker) and IndexedDB (forced with backend:
// 'indexeddb'). The worker's operations are in fixtures/storage-worker.mjs; each test
// uses its own database path, wiped first. Covers the directory contract, a
// CausalStorage of 10,000 versions across a reload, writeAtomic's crash windows (pool
// files written directly), damage reported as CORRUPTION, a second opener refused, and
// a real quota (CDP Storage.overrideQuotaForOrigin) ending in STORAGE_FULL with every
// acknowledged write still there after reopening (in a context of its own).
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemTool } from '@koru/vitest-preset/helpers';
import { CHROMIUM, call, startStorageHarness } from '../fixtures/storage-harness.mjs';

const chromiumTool = systemTool({ name: `Chromium (${CHROMIUM})`, present: () => existsSync(CHROMIUM), apt: 'chromium' });
const available = chromiumTool.available;
if (!available) console.log(`[storage-opfs] skipped: ${chromiumTool.reason}`);

let harness;

beforeAll(async () => {
  if (available) harness = await startStorageHarness();
}, 120_000);

afterAll(async () => {
  await harness?.close();
});

/** A fresh page with its worker, and a wiped database path. */
async function fresh(path) {
  const { page, errors } = await harness.newPage();
  await call(page, 'wipe', { path });
  return { page, errors };
}

describe.skipIf(!available)('@koru/storage/browser in Chromium', () => {
  it('bundles for the browser without any Node module', () => {
    expect(harness.bundle).not.toMatch(/from\s*["']node:|require\(["']node:|\bprocess\.(env|argv|exit)\b|\bBuffer\./);
  });

  it("backend 'auto' picks OPFS in a dedicated worker", async () => {
    const { page, errors } = await fresh('auto-pick');
    expect(await call(page, 'auto', { path: 'auto-pick' })).toEqual({ backend: 'opfs', name: 'opfs' });
    // In the page itself there are no sync access handles: IndexedDB.
    const inPage = await page.evaluate(() => globalThis.storageOps.auto({ path: 'auto-page' }));
    expect(inPage).toEqual({ backend: 'indexeddb', name: 'indexeddb' });
    await call(page, 'wipe', { path: 'auto-page' });
    expect(errors).toEqual([]);
    await page.close();
  });

  for (const backend of ['opfs', 'indexeddb']) {
    describe(backend, () => {
      it('keeps the directory contract: create, append, read, truncate, sync, remove, list, writeAtomic; all there after reopening', async () => {
        const path = `semantics-${backend}`;
        const { page, errors } = await fresh(path);
        const r = await call(page, 'semantics', { backend, path });
        expect(r).toMatchObject({
          createTwice: 'IO_ERROR',
          missing: 'IO_ERROR/ENOENT',
          offsets: [0, 100_000],
          size: 100_010,
          shortRead: 5,
          pastEnd: 0,
          truncated: 70_000,
          readOnlyAppend: 'IO_ERROR',
          M: [4, 5, 6, 7],
          // A file replaced while open stays readable through the open handle.
          heldAfterReplace: [4, 5, 6, 7],
          MAfterReplace: [9],
          goneExists: false,
          goneReadAll: true,
          list: ['M', 'a.kwal', 'empty'],
          closedUse: ['IO_ERROR', 'IO_ERROR'],
          reopened: { list: ['M', 'a.kwal', 'empty'], M: [9], empty: 0 },
        });
        expect(r.readMid).toBe(r.expectMid);
        expect(r.reopened.a).toBe(r.reopened.expectA);
        if (backend === 'opfs') {
          // Synchronous creations beyond the free slots fail (IO_ERROR) rather than block;
          // reserve() makes room for as many as asked.
          expect(r.exhausted).toBe('IO_ERROR');
          expect(r.exhaustedAfter).toBeGreaterThan(0);
          expect(r.exhaustedAfter).toBeLessThan(200);
          expect(r.poolAtLeast).toBe(true);
        }
        expect(errors).toEqual([]);
        await page.close();
      });

      it('a CausalStorage of 10,000 versions survives closing and a reload, verify() clean', async () => {
        const path = `tenk-${backend}`;
        const { page, errors } = await fresh(path);
        const filled = await call(page, 'fill', { backend, path, n: 10_000, keys: 500, batch: 100, memtableBytes: 256 * 1024 });
        expect(filled).toMatchObject({ adapter: backend, backend, versions: 10_000 });
        await page.reload();
        await page.waitForFunction(() => globalThis.ready === true);
        const checked = await call(page, 'check', { backend, path, n: 10_000, keys: 500 });
        expect(checked).toMatchObject({ nodeId: filled.nodeId, versions: 10_000, keys: 500, wrongHeads: 0, wrongHistories: 0, verified: true, problems: 0, usage: true });
        expect(checked.diskBytes).toBeGreaterThan(100_000);
        expect(errors).toEqual([]);
        await page.close();
      }, 120_000);

      it('damaged bytes in a segment are CORRUPTION, never wrong data', async () => {
        const path = `corrupt-${backend}`;
        const { page, errors } = await fresh(path);
        const r = await call(page, 'corrupt', { backend, path });
        expect(r.flipped).toMatch(/\.kseg$/);
        expect(r.wrong).toBe(0);
        const codes = [r.openCode, r.verifyCode, ...r.readCodes].filter((c) => c !== undefined);
        expect(codes.length).toBeGreaterThan(0);
        for (const c of codes) expect(c).toBe('CORRUPTION');
        expect(r.verified).not.toBe(true);
        expect(errors).toEqual([]);
        await page.close();
      }, 60_000);

      it('a missing NODE with data refuses to open (CORRUPTION) and releases the directory; repair opens with a new id', async () => {
        const path = `node-${backend}`;
        const { page, errors } = await fresh(path);
        expect(await call(page, 'missingNode', { backend, path })).toEqual({
          refused: 'CORRUPTION',
          repaired: ['NODE was missing: this node now writes as ID'],
          head: 199,
        });
        expect(errors).toEqual([]);
        await page.close();
      });

      it('a second opener (another tab) gets DATABASE_LOCKED until the first closes', async () => {
        const path = `locked-${backend}`;
        const first = await fresh(path);
        expect(await call(first.page, 'hold', { backend, path })).toBe(backend);
        const second = await harness.newPage();
        expect(await call(second.page, 'tryOpen', { backend, path })).toBe('DATABASE_LOCKED');
        await call(first.page, 'release', { path });
        expect(await call(second.page, 'tryOpen', { backend, path })).toBe('opened:first');
        expect([...first.errors, ...second.errors]).toEqual([]);
        await first.page.close();
        await second.page.close();
      }, 60_000);

      it('a full quota fails writes with STORAGE_FULL; every acknowledged write is there after reopening', async () => {
        const path = `quota-${backend}`;
        // A context of its own: Chromium's IndexedDB takes an origin's quota when it first
        // opens its storage there, so the override must come before any database opened.
        const context = await harness.newContext();
        const { page, errors } = await harness.newPage(context);
        const cdp = await context.newCDPSession(page);
        const { usage } = await call(page, 'estimate');
        // A real quota a few MiB above what the origin uses now (the other tests' data included).
        await cdp.send('Storage.overrideQuotaForOrigin', { origin: harness.origin, quotaSize: usage + 3 * 1024 * 1024 });
        let full;
        try {
          full = await call(page, 'fillUntilFull', { backend, path });
        } finally {
          await cdp.send('Storage.overrideQuotaForOrigin', { origin: harness.origin });
        }
        expect(full.code, `${full.message} (usage before: ${usage}; acknowledged ${full.acknowledged.length})`).toBe('STORAGE_FULL');
        expect(full.acknowledged.length).toBeGreaterThan(10);
        await page.reload();
        await page.waitForFunction(() => globalThis.ready === true);
        const back = await call(page, 'checkFull', { backend, path, acknowledged: full.acknowledged });
        expect(back.bad).toEqual([]);
        expect(back.verified).toBe(true);
        expect(back.keys).toBeGreaterThanOrEqual(full.acknowledged.length);
        expect(errors).toEqual([]);
        await cdp.detach();
        await context.close();
      }, 120_000);
    });
  }

  it("OPFS writeAtomic: a crash before the new header, or with it torn, leaves the old file; after it, the new one (the old slot freed)", async () => {
    const path = 'atomic-crash';
    const { page, errors } = await fresh(path);
    const r = await call(page, 'atomicCrash', { path });
    expect(r).toEqual({
      afterContentOnly: 'old contents',
      listAfterContentOnly: ['X'],
      afterTornHeader: 'old contents',
      afterNewHeader: 'new contents, not claimed',
      listAfterNewHeader: ['X'],
      claims: 1,
    });
    expect(errors).toEqual([]);
    await page.close();
  });
});
