// The database worker hashes with hash-wasm (WebAssembly; @koru/delta's src/browser/wasm-hash.ts),
// about 3x the portable backend, and its ids are the ones every other backend computes: a
// version written in the browser has the versionId Node computes for the same version.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTab, startHarness, available, withContext } from './tabs-harness.mjs';

let h;

beforeAll(async () => {
  if (available) h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

describe.skipIf(!available)('the database worker’s SHA-256 (Chromium)', () => {
  it('is hash-wasm, and gives the ids node:crypto gives', async () => {
    await withContext(h, async (context) => {
      const { page } = await openTab(context, h.origin);
      const written = await page.evaluate(async (p) => {
        const { KoruDelta } = globalThis.koru;
        const db = await KoruDelta.start({ path: p });
        globalThis.db = db;
        const v = await db.put('notes', 'n1', { text: 'héllo 😀' });
        return { versionId: v.versionId, valueId: v.valueId };
      }, `worker-hash-${process.pid}`);
      // The worker that served it: the page's only one.
      const [worker] = page.workers();
      expect(worker).toBeDefined();
      const backend = await worker.evaluate(() => globalThis[Symbol.for('@koru/engine.hashBackend')]?.name);
      expect(backend).toBe('hash-wasm');
      // A value's id is the SHA-256 of its canonical JSON.
      expect(written.valueId).toBe(createHash('sha256').update(JSON.stringify({ text: 'héllo 😀' })).digest('hex'));
      await page.evaluate(() => globalThis.db.close());
    });
  });
});
