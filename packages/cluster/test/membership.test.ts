// SWIM membership rules: precedence of updates, refutation, dissemination limits.
import { describe, expect, it } from 'vitest';
import { Membership, overrides, peerStateOf } from '../src/membership.js';

describe('membership', () => {
  it('orders updates by incarnation, then left > dead > suspect > alive', () => {
    expect(overrides({ state: 'alive', inc: 2 }, { state: 'dead', inc: 1 })).toBe(true);
    expect(overrides({ state: 'alive', inc: 1 }, { state: 'suspect', inc: 1 })).toBe(false);
    expect(overrides({ state: 'suspect', inc: 1 }, { state: 'alive', inc: 1 })).toBe(true);
    expect(overrides({ state: 'dead', inc: 1 }, { state: 'suspect', inc: 1 })).toBe(true);
    expect(overrides({ state: 'left', inc: 1 }, { state: 'dead', inc: 1 })).toBe(true);
    expect(overrides({ state: 'dead', inc: 0 }, { state: 'alive', inc: 1 })).toBe(false);
    expect(['alive', 'suspect', 'dead', 'left'].map((s) => peerStateOf(s as never))).toEqual(['healthy', 'suspect', 'unreachable', 'left']);
  });

  it('learns members from gossip, judges them, and lets a member back only at a higher incarnation', () => {
    const m = new Membership('me', 'h:1', 5);
    expect(m.apply({ node: 'b', address: 'h:2', state: 'alive', inc: 3 }, 100)?.state).toBe('alive');
    expect(m.judge('b', 'suspect', 200)?.state).toBe('suspect');
    expect(m.get('b')).toMatchObject({ state: 'suspect', inc: 3, since: 200 });
    // Stale news changes nothing; the member's own refutation (a higher incarnation) does.
    expect(m.apply({ node: 'b', address: 'h:2', state: 'alive', inc: 3 }, 300)).toBeUndefined();
    expect(m.apply({ node: 'b', address: 'h:2', state: 'alive', inc: 4 }, 300)?.state).toBe('alive');
    expect(m.judge('b', 'dead', 400)?.state).toBe('dead');
    expect(m.judge('b', 'suspect', 500)).toBeUndefined();
    // A graceful leave is final at its incarnation; a restart (higher incarnation) returns.
    expect(m.apply({ node: 'b', address: 'h:2', state: 'left', inc: 4 }, 600)?.state).toBe('left');
    expect(m.apply({ node: 'b', address: 'h:2', state: 'alive', inc: 4 }, 700)).toBeUndefined();
    expect(m.current()).toEqual([]);
    expect(m.apply({ node: 'b', address: 'h:9', state: 'alive', inc: 90 }, 800)).toMatchObject({ state: 'alive', address: 'h:9' });
  });

  it('refutes a suspicion about itself by raising its incarnation, and spreads that first', () => {
    const m = new Membership('me', 'h:1', 5);
    m.apply({ node: 'me', address: 'h:1', state: 'suspect', inc: 5 }, 1);
    expect(m.selfInc).toBe(6);
    m.apply({ node: 'me', address: 'h:1', state: 'dead', inc: 9 }, 2);
    expect(m.selfInc).toBe(10);
    // Old news about itself is ignored.
    m.apply({ node: 'me', address: 'h:1', state: 'suspect', inc: 3 }, 3);
    expect(m.selfInc).toBe(10);
    expect(m.piggyback()[0]).toEqual({ node: 'me', address: 'h:1', state: 'alive', inc: 10 });
  });

  it('piggybacks each update a bounded number of times, fewest-sent first', () => {
    const m = new Membership('me', 'h:1', 1);
    for (let i = 0; i < 20; i++) m.apply({ node: `n${i}`, address: `h:${i + 10}`, state: 'alive', inc: 1 }, 0);
    const sends = new Map<string, number>();
    for (let round = 0; round < 100; round++) {
      const g = m.piggyback(8);
      expect(g.length).toBeLessThanOrEqual(8);
      for (const e of g.slice(1)) sends.set(e.node, (sends.get(e.node) ?? 0) + 1);
    }
    // 3 · ceil(log2(20 + 2)) = 15 sends each, then dropped: every update spread, none forever.
    expect([...sends.values()].every((n) => n === 15)).toBe(true);
    expect(sends.size).toBe(20);
    expect(m.piggyback(8)).toHaveLength(1);
  });
});
