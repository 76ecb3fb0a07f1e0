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
