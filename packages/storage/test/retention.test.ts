// Retention and purge in memory (MemoryAdapter: the same engine, merges in this thread):
// policies, what compact() and background merges cut, the horizon that reads answer
// HISTORY_PRUNED with, verify from the horizon, the change feed's pruned case, purge.
import { ErrorCodes, parseHlc } from '@koru/engine';
import { CausalStorage, HISTORY_PRUNED, MemoryAdapter, type LsmTree, type Version } from '@koru/storage';
import { describe, expect, it } from 'vitest';
import { manualClock } from './conformance.js';
import { T, TreeCapture, errorOf } from './retention-helpers.js';

/** `n` versions of ns/k, each with a distinct value, one ms apart. */
async function writeVersions(s: CausalStorage, clock: { t: number }, ns: string, key: string, n: number, tag = ''): Promise<Version[]> {
  const out: Version[] = [];
  for (let i = 0; i < n; i++) {
    clock.t += 1;
    out.push(await s.put(ns, key, { i, tag, ns, key }));
  }
  return out;
}

describe('retention policies', () => {
  it('are validated, default to keep-all, and are set per namespace', async () => {
    const s = await CausalStorage.open();
    expect(s.retention('a')).toEqual({ keep: 'all' });
    for (const bad of [{}, { lastVersions: 0 }, { lastVersions: 1.5 }, { maxAgeMs: -1 }, { keep: 'some' }, { lastVersions: 2, maxAgeMs: 5 }, null, 3, { lastVersions: '2' }]) {
      await expect(s.setRetention('a', bad as never)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    }
    await expect(s.setRetention('_koru', { lastVersions: 1 })).rejects.toMatchObject({ code: ErrorCodes.INVALID_NAMESPACE });
    expect(await s.setRetention('a', { lastVersions: 3 })).toEqual({ lastVersions: 3 });
    await s.setRetention('b', { maxAgeMs: 1000 });
    expect(s.retention('a')).toEqual({ lastVersions: 3 });
    expect(s.retentionPolicies()).toEqual([
      ['a', { lastVersions: 3 }],
      ['b', { maxAgeMs: 1000 }],
    ]);
    await s.setRetention('a', { keep: 'all' });
    expect(s.retention('a')).toEqual({ keep: 'all' });
    expect(s.retentionPolicies()).toEqual([['b', { maxAgeMs: 1000 }]]);
    await s.close();
  });
});

describe('last N versions, applied by compact()', () => {
  it('keeps the N newest of each key, leaves a horizon, and verify passes', async () => {
    const clock = manualClock(T);
    const s = await CausalStorage.open({ now: clock.now });
    await s.setRetention('kept', { lastVersions: 3 });
    const a = await writeVersions(s, clock, 'kept', 'a', 10);
    const b = await writeVersions(s, clock, 'kept', 'b', 2);
    const other = await writeVersions(s, clock, 'all', 'a', 6);
    expect(s.prunedThroughSeq).toBe(0);
    await s.compact();
    expect(s.history('kept', 'a').map((v) => v.versionId)).toEqual(a.slice(7).map((v) => v.versionId));
    expect(s.history('kept', 'b')).toEqual(b);
    expect(s.history('all', 'a')).toEqual(other);
    expect(s.getVersion('kept', 'a')).toEqual(a[9]);
    // The oldest kept version still names, by hash, the one it superseded.
    expect(s.history('kept', 'a')[0]!.previousVersion).toBe(a[6]!.versionId);
    expect(s.prunedThroughSeq).toBe(7); // a[6], the 7th change
    const report = await s.verify();
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    await s.close();
  });

  it('answers HISTORY_PRUNED, naming the horizon, for a time or id before it', async () => {
    const clock = manualClock(T);
    const s = await CausalStorage.open({ now: clock.now });
    await s.setRetention('kept', { lastVersions: 2 });
    const a = await writeVersions(s, clock, 'kept', 'a', 5);
    await s.compact();
    const horizon = { versionId: a[3]!.versionId, hlc: a[3]!.hlc, node: a[3]!.node };
    // Within the kept window: answered.
    expect(s.getAt('kept', 'a', parseHlc(a[3]!.hlc))).toEqual(a[3]);
    expect(s.getAt('kept', 'a', parseHlc(a[4]!.hlc).wall)).toEqual(a[4]);
    expect(s.getVersionById('kept', 'a', a[3]!.versionId)).toEqual(a[3]);
    // Before it: pruned, never a wrong answer or "not found".
    for (const at of [parseHlc(a[2]!.hlc), parseHlc(a[0]!.hlc), T - 1000]) {
      const e = errorOf(() => s.getAt('kept', 'a', at));
      expect(e.code).toBe(HISTORY_PRUNED);
      expect(e.details).toMatchObject({ namespace: 'kept', key: 'a', horizon, purged: false });
    }
    expect(errorOf(() => s.getVersionById('kept', 'a', a[1]!.versionId)).code).toBe(HISTORY_PRUNED);
    // One key's versions by time: from before the horizon, pruned; from it on, the kept ones.
    expect(errorOf(() => [...s.versions('kept', { key: 'a', fromMs: parseHlc(a[2]!.hlc).wall })]).code).toBe(HISTORY_PRUNED);
    expect([...s.versions('kept', { key: 'a', fromMs: parseHlc(a[3]!.hlc).wall })]).toEqual(a.slice(3));
    expect([...s.versions('kept', {})]).toEqual(a.slice(3));
    await s.close();
  });
});

describe('max age, applied by compact()', () => {
  it('keeps the versions younger than the cutoff and the one current at it', async () => {
    const clock = manualClock(T);
    const s = await CausalStorage.open({ now: clock.now });
    const a: Version[] = [];
    for (let i = 0; i < 6; i++) {
      clock.t += 10_000; // 10 s apart
      a.push(await s.put('aged', 'a', { i }));
    }
    await s.setRetention('aged', { maxAgeMs: 25_000 });
    // now = a[5] + 0: the cutoff is 25 s ago, between a[2] (30 s ago) and a[3] (20 s ago).
    await s.compact();
    expect(s.history('aged', 'a').map((v) => v.value)).toEqual([{ i: 2 }, { i: 3 }, { i: 4 }, { i: 5 }]);
    // getAt at the cutoff answers (the version current then); before a[2], pruned.
    expect(s.getAt('aged', 'a', clock.t - 25_000)).toEqual(a[2]);
    expect(errorOf(() => s.getAt('aged', 'a', parseHlc(a[1]!.hlc))).code).toBe(HISTORY_PRUNED);
    expect((await s.verify()).problems).toEqual([]);
    await s.close();
  });

  it('never cuts the current version, however old', async () => {
    const clock = manualClock(T);
    const s = await CausalStorage.open({ now: clock.now });
    const a = await writeVersions(s, clock, 'aged', 'a', 3);
    await s.setRetention('aged', { maxAgeMs: 1 });
    clock.t += 1_000_000;
    await s.compact();
    expect(s.history('aged', 'a')).toEqual([a[2]]);
    expect(s.getVersion('aged', 'a')).toEqual(a[2]);
    expect((await s.verify()).ok).toBe(true);
    await s.close();
  });
});

describe('background merges (MemoryAdapter)', () => {
  it('cut history as they reach the deepest level, without compact()', async () => {
    const clock = manualClock(T);
    const s = await CausalStorage.open({ now: clock.now, adapter: new MemoryAdapter({ memtableBytes: 4096 }) });
    await s.setRetention('kept', { lastVersions: 2 });
    const keys = ['a', 'b', 'c', 'd'];
    const written = new Map<string, Version[]>(keys.map((k) => [k, []]));
    for (let round = 0; round < 60; round++) {
      for (const k of keys) written.get(k)!.push(...(await writeVersions(s, clock, 'kept', k, 1, `r${round}`)));
      // A macrotask: the flush of a full memtable runs (else every frozen one goes into one file).
      await new Promise((r) => setTimeout(r, 1));
    }
    // Merges ran on their own (level 0 filled four times over): history was cut.
    for (let i = 0; i < 200 && s.prunedThroughSeq === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(s.prunedThroughSeq).toBeGreaterThan(0);
    for (const k of keys) {
      const h = s.history('kept', k);
      const all = written.get(k)!;
      // What is kept is the newest part of the history, in order, ending at the head.
      expect(h.length).toBeGreaterThanOrEqual(2);
      expect(h.length).toBeLessThan(all.length);
      expect(h).toEqual(all.slice(all.length - h.length));
    }
    expect((await s.verify()).problems).toEqual([]);
    await s.compact();
    for (const k of keys) expect(s.history('kept', k)).toEqual(written.get(k)!.slice(-2));
    expect((await s.verify()).problems).toEqual([]);
    await s.close();
  });
});

describe('background merges, age policy (MemoryAdapter)', () => {
  it('keep every version younger than the cutoff and the one current at it, cutting the rest as they merge', async () => {
    const clock = manualClock(T);
    const s = await CausalStorage.open({ now: clock.now, adapter: new MemoryAdapter({ memtableBytes: 4096 }) });
    await s.setRetention('aged', { maxAgeMs: 5000 });
    const keys = ['a', 'b', 'c'];
    const written = new Map<string, Version[]>(keys.map((k) => [k, []]));
    for (let round = 0; round < 80; round++) {
      clock.t += 1000;
      for (const k of keys) written.get(k)!.push(await s.put('aged', k, { round, k }));
      await new Promise((r) => setTimeout(r, 1));
    }
    for (let i = 0; i < 200 && s.prunedThroughSeq === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(s.prunedThroughSeq).toBeGreaterThan(0);
    const cutoff = clock.t - 5000;
    for (const k of keys) {
      const all = written.get(k)!;
      const h = s.history('aged', k);
      expect(h.length).toBeLessThan(all.length);
      expect(h).toEqual(all.slice(all.length - h.length));
      // The one current at the cutoff (and so every younger one) is kept: getAt answers there.
      const atCutoff = all.filter((v) => parseHlc(v.hlc).wall <= cutoff).at(-1)!;
      expect(h).toContainEqual(atCutoff);
      expect(s.getAt('aged', k, cutoff)).toEqual(atCutoff);
    }
    expect((await s.verify()).problems).toEqual([]);
    await s.close();
  });
});

describe('the change feed below the horizon', () => {
  it('answers changeAt of a removed version with HISTORY_PRUNED and where to resync from', async () => {
    const clock = manualClock(T);
    const s = await CausalStorage.open({ now: clock.now });
    await s.setRetention('kept', { lastVersions: 1 });
    const a = await writeVersions(s, clock, 'kept', 'a', 4);
    const b = await writeVersions(s, clock, 'all', 'b', 1);
    await s.compact();
    expect(s.prunedThroughSeq).toBe(3);
    for (const seq of [1, 2, 3]) {
      const e = errorOf(() => s.changeAt(seq));
      expect(e.code).toBe(HISTORY_PRUNED);
      expect(e.details).toMatchObject({ seq, resyncFrom: s.seq, prunedThroughSeq: 3 });
    }
    // A kept version whose predecessor was cut: an update (its old value unknown).
    expect(s.changeAt(4)).toMatchObject({ seq: 4, changeType: 'update', version: a[3], previousValue: null });
    expect(s.changeAt(5)).toMatchObject({ seq: 5, changeType: 'insert', version: b[0] });
    // Exports leave the removed versions out, and say where the kept history starts.
    expect([...s.committed()]).toEqual([{ ...a[3], previousCut: { hlc: a[2]!.hlc, node: a[2]!.node, purged: false } }, b[0]]);
    await s.close();
  });
});

/** The keys of the `V` records of the tree whose value is a horizon record. */
function horizonKeys(tree: LsmTree): string[] {
  const out: string[] = [];
  const c = tree.cursor();
  for (c.seek('V'); c.valid() && c.key() < 'W'; c.next()) if ((c.value()[0]! & 0x20) !== 0) out.push(c.key());
  return out;
}

describe('verify', () => {
  it('reports a broken chain after retention: the horizon record gone', async () => {
    const clock = manualClock(T);
    const adapter = new TreeCapture();
    const s = await CausalStorage.open({ now: clock.now, adapter });
    await s.setRetention('kept', { lastVersions: 2 });
    const a = await writeVersions(s, clock, 'kept', 'a', 5);
    await s.compact();
    expect((await s.verify()).ok).toBe(true);
    const horizons = horizonKeys(adapter.tree!);
    expect(horizons).toHaveLength(1);
    adapter.tree!.delete(horizons[0]!);
    const report = await s.verify();
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual({
      namespace: 'kept',
      key: 'a',
      versionId: a[3]!.versionId,
      problem: `its previous version ${a[2]!.versionId} is not an earlier version of this key`,
    });
    await s.close();
  });

  it('reports a version missing above prunedThroughSeq, and accepts those removed below it', async () => {
    const clock = manualClock(T);
    const adapter = new TreeCapture();
    const s = await CausalStorage.open({ now: clock.now, adapter });
    await s.setRetention('kept', { lastVersions: 2 });
    const a = await writeVersions(s, clock, 'kept', 'a', 5);
    const b = await writeVersions(s, clock, 'all', 'b', 3);
    await s.compact();
    expect((await s.verify()).ok).toBe(true);
    // b's middle version vanishes (seq 7, above prunedThroughSeq 3).
    const c = adapter.tree!.cursor();
    const doomed: string[] = [];
    for (c.seek('V'); c.valid() && c.key() < 'W'; c.next()) if (c.key().includes('all')) doomed.push(c.key());
    expect(doomed).toHaveLength(3);
    adapter.tree!.delete(doomed[1]!);
    const report = await s.verify();
    expect(report.ok).toBe(false);
    expect(report.problems).toContainEqual({ namespace: 'all', key: 'b', versionId: b[1]!.versionId, problem: 'change 7 names a version record that does not exist' });
    expect(report.problems.some((p) => p.key === 'a')).toBe(false);
    expect(a).toHaveLength(5);
    await s.close();
  });
});

describe('below the horizon', () => {
  it('hides a version replicated after the cut with an older clock, and the next cut drops it', async () => {
    const clock = manualClock(T);
    const other = manualClock(T);
    const adapter = new TreeCapture();
    const s = await CausalStorage.open({ now: clock.now, adapter });
    const peer = await CausalStorage.open({ now: other.now });
    // The peer made the key on its own, long ago (a root version: no predecessor).
    const old = await peer.put('kept', 'a', { from: 'peer' });
    clock.t += 60_000;
    await s.setRetention('kept', { lastVersions: 2 });
    const a = await writeVersions(s, clock, 'kept', 'a', 4);
    await s.compact();
    const r = await s.applyReplicated([JSON.parse(JSON.stringify(old)) as never]);
    expect(r.applied.map((v) => v.versionId)).toEqual([old.versionId]);
    // Stored, but below the horizon: reads stop before it, its time is pruned.
    expect(s.history('kept', 'a')).toEqual(a.slice(2));
    expect(errorOf(() => s.getAt('kept', 'a', parseHlc(old.hlc))).code).toBe(HISTORY_PRUNED);
    expect(errorOf(() => s.getVersionById('kept', 'a', old.versionId)).code).toBe(HISTORY_PRUNED);
    expect((await s.verify()).problems).toEqual([]);
    const countV = (): number => {
      let n = 0;
      const c = adapter.tree!.cursor();
      for (c.seek('V'); c.valid() && c.key() < 'W'; c.next()) n++;
      return n;
    };
    expect(countV()).toBe(4); // two kept, the horizon record, the replicated one
    await s.compact();
    expect(countV()).toBe(3);
    expect(s.history('kept', 'a')).toEqual(a.slice(2));
    expect((await s.verify()).problems).toEqual([]);
    await s.close();
    await peer.close();
  });
});

describe('retention and replication', () => {
  it('admits a replicated version made on top of a version cut here (never an orphan waiting forever); verify passes', async () => {
    const clock = manualClock(T);
    const s = await CausalStorage.open({ now: clock.now });
    const peer = await CausalStorage.open({ now: clock.now });
    await s.setRetention('kept', { lastVersions: 2 });
    const a = await writeVersions(s, clock, 'kept', 'a', 5);
    // The peer keeps everything: it holds a0..a2 and writes on top of a1 (the horizon) and of a0 (cut deeper).
    const wire = (v: Version): never => JSON.parse(JSON.stringify(v)) as never;
    expect((await peer.applyReplicated(a.slice(0, 3).map(wire))).applied).toHaveLength(3);
    await s.compact();
    expect(s.history('kept', 'a')).toEqual(a.slice(3));
    clock.t += 1;
    const onHorizon = await peer.put('kept', 'a', { from: 'peer', on: 2 });
    expect(onHorizon.previousVersion).toBe(a[2]!.versionId);
    const deep = (await peer.applyReplicated([wire(a[3]!), wire(a[4]!)])).applied;
    expect(deep).toHaveLength(2);
    clock.t += 1;
    const latest = await peer.put('kept', 'a', { from: 'peer', last: true });
    const r = await s.applyReplicated([wire(onHorizon), wire(latest)]);
    expect(r.orphans).toEqual([]);
    expect(r.applied.map((v) => v.versionId).sort()).toEqual([onHorizon.versionId, latest.versionId].sort());
    expect(s.get('kept', 'a')).toEqual({ from: 'peer', last: true });
    expect((await s.verify()).problems).toEqual([]);
    await s.compact();
    expect((await s.verify()).problems).toEqual([]);
    // The two newest by clock: the peer's, made on a branch from a version cut here.
    expect(s.history('kept', 'a').map((v) => v.versionId)).toEqual([onHorizon.versionId, latest.versionId]);
    // An import is not replication: a predecessor it does not bring is still refused.
    const other = await CausalStorage.open({ now: clock.now });
    await expect(other.importVersions([wire(latest)])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await Promise.all([s.close(), peer.close(), other.close()]);
  });
});

describe('purge in memory', () => {
  it('leaves the tombstone, HISTORY_PRUNED before it, a clean verify; a second purge and retention agree with it', async () => {
    const clock = manualClock(T);
    const s = await CausalStorage.open({ now: clock.now });
    const v = await writeVersions(s, clock, 'p', 'k', 3);
    const first = await s.purge('p', 'k');
    expect(first.removed).toEqual([v[2]!.versionId, v[1]!.versionId, v[0]!.versionId]);
    const [tomb] = s.history('p', 'k');
    expect(tomb).toMatchObject({ deleted: true, previousVersion: v[2]!.versionId, versionId: first.tombstone });
    const e = errorOf(() => s.getAt('p', 'k', parseHlc(v[2]!.hlc)));
    expect(e.code).toBe(HISTORY_PRUNED);
    expect(e.details).toMatchObject({ horizon: { versionId: tomb!.versionId, hlc: tomb!.hlc }, purged: true });
    expect(s.prunedThroughSeq).toBe(3);
    expect((await s.verify()).problems).toEqual([]);
    // Written again, then purged again (its head live): only the new tombstone stays.
    const w = await writeVersions(s, clock, 'p', 'k', 2, 'again');
    const second = await s.purge('p', 'k');
    expect(second.removed).toEqual([w[1]!.versionId, w[0]!.versionId, first.tombstone]);
    expect(s.history('p', 'k').map((x) => x.versionId)).toEqual([second.tombstone]);
    // Purging a deleted key removes what lies before its tombstone.
    expect((await s.purge('p', 'k')).removed).toEqual([]);
    await s.setRetention('p', { lastVersions: 1 });
    await s.compact();
    expect(s.history('p', 'k').map((x) => x.versionId)).toEqual([second.tombstone]);
    expect((await s.verify()).problems).toEqual([]);
    expect(errorOf(() => s.changeAt(1)).code).toBe(HISTORY_PRUNED);
    await expect(s.purge('p', 'never')).rejects.toMatchObject({ code: ErrorCodes.KEY_NOT_FOUND });
    await s.close();
  });
});
