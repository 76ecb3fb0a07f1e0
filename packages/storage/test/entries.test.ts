// entries(): the live documents of a namespace, now or as they were at a time.
import { ErrorCodes } from '@koru/engine';
import { CausalStorage } from '@koru/storage';
import { describe, expect, it } from 'vitest';
import { codeOf, manualClock } from './conformance.js';

const sorted = (it: Iterable<{ key: string; value: unknown }>) =>
  [...it].map(({ key, value }) => ({ key, value })).sort((a, b) => (a.key < b.key ? -1 : 1));

describe('entries', () => {
  it('lists live keys with current values; at a time, the values then, without keys deleted or not yet written', async () => {
    const clock = manualClock(1_000);
    const s = await CausalStorage.open({ now: clock.now });
    await s.put('docs', 'a', { v: 1 });
    await s.put('docs', 'b', { v: 1 });
    await s.put('other', 'x', 1);
    clock.t = 2_000;
    await s.put('docs', 'a', { v: 2 });
    await s.delete('docs', 'b');
    await s.put('docs', 'c', { v: 1 });

    expect(sorted(s.entries('docs'))).toEqual([
      { key: 'a', value: { v: 2 } },
      { key: 'c', value: { v: 1 } },
    ]);
    expect(sorted(s.entries('docs', 1_500))).toEqual([
      { key: 'a', value: { v: 1 } },
      { key: 'b', value: { v: 1 } },
    ]);
    expect([...s.entries('docs', 999)]).toEqual([]);
    expect([...s.entries('nothing-here')]).toEqual([]);
    expect(codeOf(() => [...s.entries('_bad')])).toBe(ErrorCodes.INVALID_NAMESPACE);
    expect(codeOf(() => [...s.entries('docs', Number.NaN)])).toBe(ErrorCodes.INVALID_ARGUMENT);
    await s.close();
  });
});

describe('versions', () => {
  it('lists versions of one key or a whole namespace within a time range, tombstones included', async () => {
    const clock = manualClock(1_000);
    const s = await CausalStorage.open({ now: clock.now });
    await s.put('docs', 'a', 1);
    clock.t = 2_000;
    await s.put('docs', 'a', 2);
    await s.put('docs', 'b', 1);
    clock.t = 3_000;
    await s.delete('docs', 'a');
    await s.put('other', 'x', 0);
    const pick = (it: Iterable<{ key: string; value: unknown; deleted: boolean; timestamp: string }>) =>
      [...it].map((v) => `${v.key}@${Date.parse(v.timestamp)}=${v.deleted ? 'deleted' : String(v.value)}`).sort();
    expect(pick(s.versions('docs'))).toEqual(['a@1000=1', 'a@2000=2', 'a@3000=deleted', 'b@2000=1']);
    expect(pick(s.versions('docs', { key: 'a', fromMs: 2_000 }))).toEqual(['a@2000=2', 'a@3000=deleted']);
    expect(pick(s.versions('docs', { fromMs: 1_500, toMs: 2_500 }))).toEqual(['a@2000=2', 'b@2000=1']);
    expect(pick(s.versions('docs', { toMs: 999 }))).toEqual([]);
    expect(codeOf(() => [...s.versions('docs', { key: 'nope' })])).toBe(ErrorCodes.KEY_NOT_FOUND);
    expect(codeOf(() => [...s.versions('docs', { fromMs: Number.NaN })])).toBe(ErrorCodes.INVALID_ARGUMENT);
    const chain = [...s.versions('docs', { key: 'a' })];
    expect(chain[1]!.previousVersion).toBe(chain[0]!.versionId);
    await s.close();
  });
});

describe('entriesAsOf and liveVersionsOf', () => {
  it('gives the namespace exactly as it was after a seq, even within one millisecond', async () => {
    const s = await CausalStorage.open({ now: () => 5_000 }); // every write in the same ms
    await s.put('docs', 'a', 1); // seq 1
    await s.put('docs', 'b', 1); // 2
    await s.put('docs', 'a', 2); // 3
    await s.delete('docs', 'b'); // 4
    await s.put('other', 'x', 1); // 5
    expect(sorted(s.entriesAsOf('docs', 0))).toEqual([]);
    expect(sorted(s.entriesAsOf('docs', 2))).toEqual([{ key: 'a', value: 1 }, { key: 'b', value: 1 }]);
    expect(sorted(s.entriesAsOf('docs', 3))).toEqual([{ key: 'a', value: 2 }, { key: 'b', value: 1 }]);
    expect(sorted(s.entriesAsOf('docs', 5))).toEqual([{ key: 'a', value: 2 }]);
    expect(codeOf(() => s.entriesAsOf('docs', 6))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => s.entriesAsOf('docs', -1))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => s.entriesAsOf('_x', 1))).toBe(ErrorCodes.INVALID_NAMESPACE);
  });

  it('lists the live ones of some keys in key order (UTF-8 bytes), the order entries() uses', async () => {
    const s = await CausalStorage.open();
    // U+FF5E sorts before U+1F600 in UTF-16 but after it in UTF-8: the stored order is UTF-8's.
    for (const k of ['c', 'a', 'd', 'b', '\u{1F600}', '\uFF5E']) await s.put('docs', k, k);
    await s.delete('docs', 'd');
    await s.put('docs', 'c', 'c2');
    const order = ['a', 'b', 'c', '\uFF5E', '\u{1F600}'];
    expect(s.liveVersionsOf('docs', ['b', 'd', '\u{1F600}', 'c', 'nope', 'a', '\uFF5E']).map((v) => v.key)).toEqual(order);
    expect([...s.entries('docs')].map((v) => v.key)).toEqual(order);
    expect(s.liveVersionsOf('docs', ['c'])[0]!.value).toBe('c2');
  });

  it('hands the versions of each applied batch to onApply before the writes resolve', async () => {
    const s = await CausalStorage.open();
    const seen: string[][] = [];
    const off = s.onApply((vs) => seen.push(vs.map((v) => `${v.key}=${String(v.value)}`)));
    const p = s.putMany([
      { namespace: 'n', key: 'a', value: 1 },
      { namespace: 'n', key: 'b', value: 2 },
    ]);
    const single = s.put('n', 'a', 3);
    await p;
    expect(seen.flat()).toContain('a=1');
    await single;
    expect(seen.flat()).toEqual(['a=1', 'b=2', 'a=3']);
    off();
    await s.put('n', 'c', 4);
    expect(seen.flat()).toHaveLength(3);
  });
});
