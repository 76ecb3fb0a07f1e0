// changeKeyAt: the namespace and key of a change, read from its change record alone (what
// a change feed routes by), also once its version was purged.
import { ErrorCodes } from '@koru/engine';
import { CausalStorage } from '@koru/storage';
import { describe, expect, it } from 'vitest';
import { codeOf } from './conformance.js';

describe('changeKeyAt', () => {
  it('names the key of every change, purged ones included, and refuses a seq out of range', async () => {
    const s = await CausalStorage.open();
    try {
      await s.put('users', 'alice', 1);
      await s.put('orders', 'o:1', { total: 2 });
      await s.put('users', 'alice', 2);
      expect([1, 2, 3].map((q) => s.changeKeyAt(q))).toEqual([
        { namespace: 'users', key: 'alice' },
        { namespace: 'orders', key: 'o:1' },
        { namespace: 'users', key: 'alice' },
      ]);
      await s.purge('users', 'alice');
      expect(codeOf(() => s.changeAt(1))).toBe(ErrorCodes.HISTORY_PRUNED);
      expect(s.changeKeyAt(1)).toEqual({ namespace: 'users', key: 'alice' });
      expect(s.changeKeyAt(s.seq)).toEqual({ namespace: 'users', key: 'alice' });
      for (const bad of [0, s.seq + 1, 1.5, Number.NaN]) expect(codeOf(() => s.changeKeyAt(bad)), String(bad)).toBe(ErrorCodes.INVALID_ARGUMENT);
    } finally {
      await s.close();
    }
  });
});
