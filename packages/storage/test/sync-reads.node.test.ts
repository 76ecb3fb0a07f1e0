// Local state records (setLocalState / localState) and committedAfter (the versions
// after a seq, bounded by count and bytes, for sync): on disk, across a reopen, a
// compaction, and with versions cut by retention.
import { CausalStorage, committedAfter, MAX_LOCAL_STATE_BYTES, utf8Length, type Version } from '@koru/storage';
import { FileAdapter } from '@koru/storage/node';
import { fcSeed, tempDir } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});
function dir(): string {
  const t = tempDir('koru-sync-reads-');
  cleanups.push(t.cleanup);
  return t.dir;
}

describe('local state', () => {
  it('survives a reopen and a compaction, is replaced and removed, and is neither a version nor a change', async () => {
    const d = dir();
    let s = await CausalStorage.open({ adapter: new FileAdapter(d) });
    await s.put('ns', 'k', 1);
    s.setLocalState('sync/a', { pull: 3, push: 1 });
    s.setLocalState('sync/b', [1, 'two']);
    s.setLocalState('sync/b', 'replaced');
    s.setLocalState('gone', true);
    s.setLocalState('gone', undefined);
    expect(s.seq).toBe(1);
    expect([...s.committed()]).toHaveLength(1);
    expect(s.localState('sync/a')).toEqual({ pull: 3, push: 1 });
    await s.compact();
    await s.close();
    s = await CausalStorage.open({ adapter: new FileAdapter(d) });
    expect(s.localState('sync/a')).toEqual({ pull: 3, push: 1 });
    expect(s.localState('sync/b')).toBe('replaced');
    expect(s.localState('gone')).toBeUndefined();
    expect(s.localState('never')).toBeUndefined();
    expect(s.seq).toBe(1);
    expect(s.listNamespaces()).toEqual(['ns']);
    expect((await s.verify()).ok).toBe(true);
    await s.close();
  });

  it('refuses bad names, values with no JSON form and values over the limit', async () => {
    const s = await CausalStorage.open();
    for (const name of ['', 5, 'x'.repeat(257)]) expect(() => s.setLocalState(name as string, 1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => s.setLocalState('f', () => 1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => s.setLocalState('big', 'x'.repeat(MAX_LOCAL_STATE_BYTES))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    await s.close();
    expect(() => s.setLocalState('a', 1)).toThrow(expect.objectContaining({ code: 'CLOSED' }));
    expect(() => s.localState('a')).toThrow(expect.objectContaining({ code: 'CLOSED' }));
  });
});

describe('committedAfter', () => {
  it('pages through every version in seq order, each with its seq, within the count and byte bounds; filters namespaces', async () => {
    const seed = fcSeed('committedAfter');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ ns: fc.constantFrom('a', 'b'), key: fc.integer({ min: 0, max: 4 }), size: fc.integer({ min: 0, max: 300 }), text: fc.constantFrom('x', 'é', '€', '😀') }), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 3000 }),
        fc.boolean(),
        async (writes, limit, maxBytes, onlyA) => {
          const s = await CausalStorage.open();
          const all: Array<Version & { seq: number }> = [];
          for (const w of writes) {
            const v = await s.put(w.ns, `k${w.key}`, { t: w.text.repeat(w.size) });
            all.push({ ...v, seq: s.seq });
          }
          const want = all.filter((v) => !onlyA || v.namespace === 'a');
          const got: Array<Version & { seq: number }> = [];
          let cursor = 0;
          for (let guard = 0; cursor < s.seq; guard++) {
            expect(guard).toBeLessThan(1000);
            const r = committedAfter(s, cursor, { limit, maxBytes, maxScan: 5, ...(onlyA ? { namespaces: new Set(['a']) } : {}) });
            expect(r.head).toBe(s.seq);
            expect(r.next).toBeGreaterThan(cursor);
            expect(r.next - cursor).toBeLessThanOrEqual(5);
            expect(r.versions.length).toBeLessThanOrEqual(limit);
            const bytes = r.versions.reduce((n, v) => n + utf8Length(JSON.stringify(v)) + 1, 0);
            if (r.versions.length > 1) expect(bytes).toBeLessThanOrEqual(maxBytes);
            for (const v of r.versions) expect(v.seq).toBeLessThanOrEqual(r.next);
            got.push(...r.versions);
            cursor = r.next;
          }
          expect(got).toEqual(want);
          expect(committedAfter(s, s.seq, { limit, maxBytes })).toEqual({ versions: [], next: s.seq, head: s.seq });
          await s.close();
        },
      ),
      { seed, numRuns: 40 },
    );
  });

  it('skips versions retention cut, saying through which seq (prunedThrough), and refuses bad arguments', async () => {
    const s = await CausalStorage.open({ adapter: new FileAdapter(dir()) });
    for (let i = 0; i < 6; i++) await s.put('ns', 'k', { i });
    await s.put('ns', 'other', 0);
    await s.setRetention('ns', { lastVersions: 2 });
    await s.compact();
    const r = committedAfter(s, 0, { limit: 100, maxBytes: 1 << 20 });
    expect(r.versions.map((v) => [v.seq, v.key])).toEqual([
      [5, 'k'],
      [6, 'k'],
      [7, 'other'],
    ]);
    expect(r.prunedThrough).toBe(4);
    expect(committedAfter(s, 4, { limit: 100, maxBytes: 1 << 20 }).prunedThrough).toBeUndefined();
    for (const since of [-1, 1.5, '0', NaN]) expect(() => committedAfter(s, since as number, { limit: 1, maxBytes: 1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => committedAfter(s, 0, { limit: 0, maxBytes: 1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    await s.close();
  });

  it('utf8Length matches the encoder', () => {
    for (const t of ['', 'abc', 'é', '€', '😀', 'a\u0000b', 'mixé€😀z']) expect(utf8Length(t)).toBe(new TextEncoder().encode(t).length);
  });
});
