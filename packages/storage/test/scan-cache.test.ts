// Kept namespace lists (scan-cache.ts): a kept list answers exactly as a fresh walk of the
// store would, through writes, deletes, new keys, several namespaces and evictions.
import { CausalStorage, type Version } from '@koru/storage';
import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ENTRY_BYTES } from '../src/scan-cache.js';

const NAMESPACES = ['a', 'b', 'c'];
const KEYS = ['k1', 'k2', 'k10', 'ζ', '\u{1F600}', '\uFF5E', 'z'];
const plain = (vs: Iterable<Version>) => [...vs].map((v) => `${v.key}=${JSON.stringify(v.value)}`);

describe('kept namespace lists', () => {
  it('answer as a fresh walk would, through writes, deletes and evictions (property)', async () => {
    const op = fc.record({ ns: fc.constantFrom(...NAMESPACES), key: fc.constantFrom(...KEYS), value: fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }), scan: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), async (ops) => {
        // Room for about one namespace's list: scans keep and evict lists all the time.
        const kept = await CausalStorage.open({ scanCacheBytes: 8 * ENTRY_BYTES });
        const fresh = await CausalStorage.open({ scanCacheBytes: 0 });
        for (const o of ops) {
          for (const s of [kept, fresh]) {
            if (o.value !== undefined) await s.put(o.ns, o.key, o.value);
            else if (s.contains(o.ns, o.key)) await s.delete(o.ns, o.key);
          }
          if (o.scan) for (const ns of NAMESPACES) expect(plain(kept.entries(ns))).toEqual(plain(fresh.entries(ns)));
        }
        for (const ns of NAMESPACES) expect(plain(kept.entries(ns))).toEqual(plain(fresh.entries(ns)));
        await kept.close();
        await fresh.close();
      }),
      { seed: fcSeed('kept namespace lists'), numRuns: 60 },
    );
  });

  it('a scan already iterating keeps the list it began with; the next one sees the write', async () => {
    const s = await CausalStorage.open();
    for (const k of ['a', 'b', 'c']) await s.put('n', k, k);
    [...s.entries('n')]; // kept now
    const it = s.entries('n')[Symbol.iterator]();
    expect(it.next().value?.key).toBe('a');
    await s.put('n', 'bb', 'new');
    await s.delete('n', 'c');
    expect([it.next().value?.key, it.next().value?.key, it.next().done]).toEqual(['b', 'c', true]);
    expect([...s.entries('n')].map((v) => v.key)).toEqual(['a', 'b', 'bb']);
    await s.close();
  });

  it('a namespace larger than the budget is not kept: its scans read the store each time', async () => {
    const s = await CausalStorage.open({ scanCacheBytes: 2 * ENTRY_BYTES });
    for (const k of ['a', 'b', 'c']) await s.put('n', k, k);
    const first = s.entries('n');
    expect(Array.isArray(first)).toBe(false);
    expect([...first].map((v) => v.key)).toEqual(['a', 'b', 'c']);
    await s.close();
  });
});
