// The database worker hashes with hash-wasm (WebAssembly; @koru/delta's src/browser/wasm-hash.ts),
// about 3x the portable backend, and its ids are the ones every other backend computes: a
// version written in the browser has the versionId Node computes for the same version.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { available, openTab, useHarness, withContext } from './tabs-harness.mjs';

const suite = useHarness('worker-hash');

describe.skipIf(!available)('the database worker’s SHA-256 (Chromium)', () => {
  it('is hash-wasm, and gives the ids node:crypto gives', async () => {
    await withContext(suite.h, async (context) => {
      const { page } = await openTab(context, suite.h.origin);
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
