// entries(): the live documents of a namespace, now or as they were at a time.
import { ErrorCodes } from '@koru/engine';
import { CausalStorage } from '@koru/storage';
import { describe, expect, it } from 'vitest';
import { codeOf, manualClock } from './conformance.js';

const sorted = (it: Iterable<{ key: string; value: unknown }>) => [...it].sort((a, b) => (a.key < b.key ? -1 : 1));

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
