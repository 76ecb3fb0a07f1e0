// Exact time travel: every version is reachable by getAt through its hlc, even when
// several share a millisecond, in memory, after a log replay and after a snapshot.
import { ErrorCodes, parseHlc } from '@koru/engine';
import { CausalStorage, type ImportedVersion, type Version } from '@koru/storage';
import { FileAdapter } from '@koru/storage/node';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { codeOf, manualClock, type ManualClock } from './conformance.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const T = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

/** Writes, deletes and rewrites one key, all in the clock's current millisecond. */
async function burst(s: CausalStorage): Promise<Version[]> {
  const out: Version[] = [];
  for (let i = 0; i < 5; i++) out.push(await s.put('burst', 'k', { i }));
  out.push(await s.delete('burst', 'k'));
  out.push(...(await s.putMany([{ namespace: 'burst', key: 'k', value: { i: 6 } }, { namespace: 'burst', key: 'k', value: { i: 7 } }])));
  return out;
}

/** getAt of each version's hlc gives exactly that version (a tombstone: not found). */
function expectEachReachable(s: CausalStorage, versions: readonly Version[]): void {
  for (const v of versions) {
    if (v.deleted) expect(codeOf(() => s.getAt('burst', 'k', parseHlc(v.hlc)))).toBe(ErrorCodes.KEY_NOT_FOUND);
    else expect(s.getAt('burst', 'k', parseHlc(v.hlc))).toEqual(v);
  }
}

describe('getAt by hlc', () => {
  it('reaches each of a burst of versions written in one millisecond', async () => {
    const clock = manualClock(T);
    const s = await CausalStorage.open({ now: clock.now });
    const vs = await burst(s);
    expect(new Set(vs.map((v) => v.timestamp))).toEqual(new Set([new Date(T).toISOString()]));
    expect(new Set(vs.map((v) => v.hlc)).size).toBe(vs.length);
    expectEachReachable(s, vs);
    // A millisecond reaches the last version written in it; before the first stamp, nothing.
    expect(s.getAt('burst', 'k', T)).toEqual(vs.at(-1));
    expect(vs[0]!.hlc).toBe(`00${T}-000000`);
    expect(() => s.getAt('burst', 'k', { wall: T - 1, logical: 999_999 })).toThrow(/had no value at hlc 00\d{13}-999999/);
    // A wall clock stepping back changes nothing: stamps keep increasing.
    clock.t = T - 5_000;
    const late = await s.put('burst', 'k', { i: 8 });
    expect(late.timestamp).toBe(new Date(T).toISOString());
    expectEachReachable(s, [...vs, late]);
    for (const bad of [Number.NaN, { wall: T }, { wall: T, logical: -1 }, { wall: 1.5, logical: 0 }, 'x']) {
      expect(codeOf(() => s.getAt('burst', 'k', bad as never))).toBe(ErrorCodes.INVALID_ARGUMENT);
    }
    await s.close();
  });

  it('gives the same answers after a reopen and after a full merge', async () => {
    const { dir, cleanup } = tempDir('koru-time-travel-');
    cleanups.push(cleanup);
    const clock = manualClock(T);
    const open = () => CausalStorage.open({ now: clock.now, adapter: new FileAdapter(dir) });
    let s = await open();
    const vs = await burst(s);
    await s.close();
    s = await open(); // so few writes stay in the log at close: replayed
    expect(s.recovery.replayed).toBeGreaterThan(0);
    expectEachReachable(s, vs);
    // Still the same millisecond: the reopened clock continues after the stored stamps.
    const more = await burst(s);
    expectEachReachable(s, [...vs, ...more]);
    await s.compact();
    await s.close();
    s = await open(); // one merged file
    expect(s.recovery.replayed).toBe(0);
    expectEachReachable(s, [...vs, ...more]);
    expect(s.getAt('burst', 'k', T)).toEqual(more.at(-1));
    await s.close();
  });

  it('after a reopen under a clock that went back, a write to another key is stamped after the last stored change', async () => {
    const { dir, cleanup } = tempDir('koru-time-travel-');
    cleanups.push(cleanup);
    const clock = manualClock(T);
    const open = () => CausalStorage.open({ now: clock.now, adapter: new FileAdapter(dir) });
    let s = await open();
    await s.put('a', 'k', 1);
    const last = await s.put('b', 'k', 2);
    await s.compact(); // the change records in a segment, not replayed from the log
    await s.close();
    clock.t = T - 60_000;
    s = await open();
    expect(s.recovery.replayed).toBe(0);
    const next = await s.put('c', 'fresh', 3);
    const [was, now] = [parseHlc(last.hlc), parseHlc(next.hlc)];
    expect(now.wall > was.wall || (now.wall === was.wall && now.logical > was.logical)).toBe(true);
    await s.close();
  });

  it('is defined on a key forked by replication: clock order, ties to the greater node', async () => {
    const wire = (v: Version): ImportedVersion => JSON.parse(JSON.stringify(v)) as ImportedVersion;
    const clocks: ManualClock[] = [manualClock(T), manualClock(T)];
    const [a, b] = await Promise.all(clocks.map((c) => CausalStorage.open({ now: c.now })));
    const base = await a!.put('burst', 'k', 'base');
    await b!.applyReplicated([wire(base)]);
    // Both nodes write after `base` in the same millisecond with the same clock stamp.
    const va = await a!.put('burst', 'k', 'a');
    const vb = await b!.put('burst', 'k', 'b');
    expect(va.hlc).toBe(vb.hlc);
    const vb2 = await b!.put('burst', 'k', 'b2');
    await a!.applyReplicated([wire(vb), wire(vb2)]);
    await b!.applyReplicated([wire(va)]);
    const [low, high] = a!.nodeId < b!.nodeId ? [va, vb] : [vb, va];
    for (const s of [a!, b!]) {
      expect(s.history('burst', 'k').map((v) => v.value)).toEqual(['base', low.value, high.value, 'b2']);
      expect(s.getAt('burst', 'k', parseHlc(base.hlc)).value).toBe('base');
      // Two versions share the stamp: it reaches the one that sorts (and was current) last.
      expect(s.getAt('burst', 'k', parseHlc(va.hlc)).value).toBe(high.value);
      expect(s.getAt('burst', 'k', parseHlc(vb2.hlc)).value).toBe('b2');
      expect(s.getAt('burst', 'k', T).value).toBe('b2');
      await s.close();
    }
  });
});
