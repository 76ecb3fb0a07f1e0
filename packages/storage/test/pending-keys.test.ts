// The keys with queued writes: one entry per (namespace, key), found again until released.
import { describe, expect, it } from 'vitest';
import { PendingKeys } from '../src/pending-keys.js';

describe('PendingKeys', () => {
  it('gives one entry per namespace and key, and tells same-named keys of other namespaces apart', () => {
    const keys = new PendingKeys();
    expect(keys.get('a', 'k')).toBeUndefined();
    const ak = keys.acquire('a', 'k');
    expect(keys.acquire('a', 'k')).toBe(ak);
    expect(keys.get('a', 'k')).toBe(ak);
    const bk = keys.acquire('b', 'k');
    expect(bk).not.toBe(ak);
    expect(keys.get('b', 'k')).toBe(bk);
    expect(keys.get('a', 'x')).toBeUndefined();
    expect(ak.id).toBe('a\u0000k');
    expect(bk).toMatchObject({ namespace: 'b', key: 'k', pending: 0, pendingId: undefined });
  });

  it('forgets an entry only once nothing of it is queued, and never a newer entry of the key', () => {
    const keys = new PendingKeys();
    const pk = keys.acquire('n', 'k');
    const other = keys.acquire('n', 'j');
    pk.pending = 1;
    keys.release(pk);
    expect(keys.get('n', 'k')).toBe(pk);
    pk.pending = 0;
    keys.release(pk);
    expect(keys.get('n', 'k')).toBeUndefined();
    expect(keys.get('n', 'j')).toBe(other);
    // A stale entry released again does not drop the key's new one.
    const again = keys.acquire('n', 'k');
    keys.release(pk);
    expect(keys.get('n', 'k')).toBe(again);
    keys.release(again);
    keys.release(other);
    expect(keys.get('n', 'j')).toBeUndefined();
    // The namespace's map went with its last key: acquiring starts it afresh.
    expect(keys.acquire('n', 'j')).not.toBe(other);
  });
});
