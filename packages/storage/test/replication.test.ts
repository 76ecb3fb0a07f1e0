// applyReplicated: versions written on other nodes merge into a store unchanged; history
// is the union, the current value the highest (hlc, node), state roots agree.
import { ErrorCodes } from '@koru/engine';
import { CausalStorage, EMPTY_DIGEST, type ImportedVersion, type Version } from '@koru/storage';
import { FileAdapter } from '@koru/storage/node';
import { fcSeed, tempDir } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock, type ManualClock } from './conformance.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const wire = (v: Version): ImportedVersion => JSON.parse(JSON.stringify(v)) as ImportedVersion;

/** Everything `from` holds, as a peer would send it. */
const everything = (from: CausalStorage): ImportedVersion[] => [...from.committed()].filter((v) => v.namespace !== '_koru').map(wire);

async function pair(): Promise<{ a: CausalStorage; b: CausalStorage; ca: ManualClock; cb: ManualClock }> {
  const ca = manualClock();
  const cb = manualClock();
  return { a: await CausalStorage.open({ now: ca.now }), b: await CausalStorage.open({ now: cb.now }), ca, cb };
}

describe('applyReplicated', () => {
  it('merges concurrent writes to one key: both in history, the later clock current on both sides', async () => {
    const { a, b, ca, cb } = await pair();
    const base = await a.put('users', 'k', { v: 0 });
    await b.applyReplicated([wire(base)]);
    ca.t += 10;
    cb.t += 20; // b writes later by the clock
    const va = await a.put('users', 'k', { v: 'a' });
    const vb = await b.put('users', 'k', { v: 'b' });
    expect(va.previousVersion).toBe(base.versionId);
    expect(vb.previousVersion).toBe(base.versionId);
    expect(a.stateRoot()).not.toBe(b.stateRoot());
    const ra = await a.applyReplicated([wire(vb)]);
    const rb = await b.applyReplicated([wire(va)]);
    expect(ra.applied.map((v) => v.versionId)).toEqual([vb.versionId]);
    expect(rb.applied.map((v) => v.versionId)).toEqual([va.versionId]);
    for (const s of [a, b]) {
      expect(s.get('users', 'k')).toEqual({ v: 'b' });
      expect(s.history('users', 'k').map((v) => v.versionId)).toEqual([base.versionId, va.versionId, vb.versionId]);
      // Each version keeps its own predecessor, the fork included.
      expect(s.history('users', 'k').map((v) => v.previousVersion)).toEqual([null, base.versionId, base.versionId]);
      expect(await s.verify()).toMatchObject({ ok: true, versions: 3 });
    }
    expect(a.stateRoot()).toBe(b.stateRoot());
    expect(a.stateRoot()).not.toBe(EMPTY_DIGEST);
    // The next local write follows the current version and is stamped after everything seen.
    const next = await a.put('users', 'k', { v: 'next' });
    expect(next.previousVersion).toBe(vb.versionId);
    expect(next.hlc > vb.hlc).toBe(true);
  });

  it('breaks a clock tie by node id, the same way everywhere', async () => {
    const { a, b } = await pair(); // both clocks read the same time
    const va = await a.put('n', 'k', 'a');
    const vb = await b.put('n', 'k', 'b');
    expect(va.hlc).toBe(vb.hlc);
    await a.applyReplicated([wire(vb)]);
    await b.applyReplicated([wire(va)]);
    const winner = va.node > vb.node ? 'a' : 'b';
    expect(a.get('n', 'k')).toBe(winner);
    expect(b.get('n', 'k')).toBe(winner);
    expect(a.stateRoot()).toBe(b.stateRoot());
  });

  it('keeps a concurrent delete that has the later clock: the key does not come back', async () => {
    const { a, b, ca, cb } = await pair();
    const base = await a.put('n', 'k', 1);
    await b.applyReplicated([wire(base)]);
    ca.t += 5;
    cb.t += 9;
    const put = await a.put('n', 'k', 2);
    const del = await b.delete('n', 'k');
    await a.applyReplicated([wire(del)]);
    await b.applyReplicated([wire(put)]);
    for (const s of [a, b]) {
      expect(s.contains('n', 'k')).toBe(false);
      expect(() => s.get('n', 'k')).toThrow(expect.objectContaining({ code: ErrorCodes.KEY_NOT_FOUND }));
      expect(s.listKeys('n')).toEqual([]);
      expect(s.history('n', 'k')).toHaveLength(3);
    }
    expect(a.stateRoot()).toBe(b.stateRoot());
  });

  it('is idempotent, takes any order, and hands back versions whose predecessor is missing', async () => {
    const { a, b } = await pair();
    const v1 = await a.put('n', 'k', 1);
    const v2 = await a.put('n', 'k', 2);
    const v3 = await a.put('n', 'k', 3);
    // Successors first, in one batch: sorted by clock before applying.
    const r1 = await b.applyReplicated([wire(v3), wire(v1), wire(v2)]);
    expect(r1.applied.map((v) => v.versionId)).toEqual([v1.versionId, v2.versionId, v3.versionId]);
    const again = await b.applyReplicated([wire(v2), wire(v3), wire(v3)]);
    expect(again).toMatchObject({ applied: [], duplicates: 3, orphans: [] });
    expect(b.seq).toBe(3);
    // A version whose predecessor has not arrived yet is not stored, and comes back.
    const c = await CausalStorage.open();
    const r2 = await c.applyReplicated([wire(v3)]);
    expect(r2.applied).toEqual([]);
    expect(r2.orphans.map((v) => v.versionId)).toEqual([v3.versionId]);
    expect(c.seq).toBe(0);
    expect(c.listNamespaces()).toEqual([]);
    await c.applyReplicated([wire(v1), wire(v2), ...r2.orphans]);
    expect(c.stateRoot()).toBe(a.stateRoot());
  });

  it('refuses a bad batch whole: tampered values, the reserved namespace, clocks far ahead', async () => {
    const { a, b, ca } = await pair();
    const good = await a.put('n', 'k', { x: 1 });
    const other = await a.put('n', 'j', 1);
    const refuse = async (items: ImportedVersion[], code: string, message: RegExp) => {
      await expect(b.applyReplicated(items)).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
      expect(b.seq).toBe(0);
      expect(b.listNamespaces()).toEqual([]);
    };
    await refuse([wire(other), { ...wire(good), value: { x: 2 } }], ErrorCodes.INVALID_ARGUMENT, /replicated item 1 \(n\/k\): value does not hash/);
    await refuse([{ ...wire(good), node: 'x' }], ErrorCodes.INVALID_ARGUMENT, /versionId .* does not match its content/);
    await refuse([{ ...wire(good), namespace: '_koru' }], ErrorCodes.INVALID_NAMESPACE, /_koru/);
    await refuse([{ ...wire(good), previousVersion: 'nope' }], ErrorCodes.INVALID_ARGUMENT, /previousVersion must be null or 64/);
    await expect(b.applyReplicated('x' as never)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    // A node whose clock runs an hour ahead: its versions are refused with CLOCK_SKEW.
    ca.t += 60 * 60 * 1000;
    const ahead = await a.put('n', 'late', 1);
    await refuse([wire(ahead)], ErrorCodes.CLOCK_SKEW, /3600000 ms ahead of this node's clock \(at most 600000 ms allowed\)/);
    expect((await b.applyReplicated([wire(ahead)], { maxClockAheadMs: 2 * 60 * 60 * 1000 })).applied).toHaveLength(1);
  });

  it('reports replicated versions on the change feed; one that lost to a later clock is marked superseded', async () => {
    const { a, b, ca, cb } = await pair();
    const base = await a.put('n', 'k', 'base');
    await b.applyReplicated([wire(base)]);
    expect(b.changeAt(1)).toMatchObject({ seq: 1, changeType: 'insert', version: { versionId: base.versionId } });
    ca.t += 10;
    cb.t += 5;
    const later = await a.put('n', 'k', 'a-later');
    const earlier = await b.put('n', 'k', 'b-earlier');
    await b.applyReplicated([wire(later)]);
    expect(b.changeAt(3)).toEqual({ seq: 3, changeType: 'update', version: later, previousValue: 'b-earlier' });
    await a.applyReplicated([wire(earlier)]);
    const lost = a.changeAt(3);
    expect(lost).toMatchObject({ seq: 3, changeType: 'update', previousValue: 'a-later', superseded: true });
    expect(lost.version.versionId).toBe(earlier.versionId);
    expect(a.get('n', 'k')).toBe('a-later');
    // As of each change, the state is what was current then.
    expect([...a.entriesAsOf('n', 2)].map((v) => v.value)).toEqual(['a-later']);
    expect([...b.entriesAsOf('n', 2)].map((v) => v.value)).toEqual(['b-earlier']);
  });

  it('survives a reopen (log replay, then a snapshot) with forks, the same heads, histories and root', async () => {
    const { dir: path, cleanup } = tempDir();
    cleanups.push(cleanup);
    const { a, ca } = await pair();
    let b = await CausalStorage.open({ adapter: new FileAdapter(path) });
    const base = await a.put('n', 'k', 0);
    await b.applyReplicated([wire(base)]);
    ca.t = Date.now() + 1000; // a's next write is later than b's
    await b.put('n', 'k', 'b');
    const va = await a.put('n', 'k', 'a');
    await b.applyReplicated([wire(va)]);
    await b.put('n', 'j', 1);
    const expected = { root: b.stateRoot(), history: b.history('n', 'k'), head: b.get('n', 'k'), changes: [3, 4].map((s) => b.changeAt(s)) };
    expect(expected.head).toBe('a');
    for (const step of ['replay', 'snapshot']) {
      if (step === 'snapshot') await b.compact();
      await b.close();
      b = await CausalStorage.open({ adapter: new FileAdapter(path) });
      expect(b.stateRoot()).toBe(expected.root);
      expect(b.history('n', 'k')).toEqual(expected.history);
      expect(b.get('n', 'k')).toBe(expected.head);
      expect([3, 4].map((s) => b.changeAt(s))).toEqual(expected.changes);
      expect((await b.verify()).ok).toBe(true);
    }
    await b.close();
  });

  it('converges: random writes and deletes on three nodes, exchanged in random orders, give one state', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ node: fc.integer({ min: 0, max: 2 }), key: fc.constantFrom('a', 'b', 'c'), del: fc.boolean(), tick: fc.integer({ min: 0, max: 3 }) }), { maxLength: 40 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })), { maxLength: 10 }),
        fc.integer(),
        async (ops, syncs, shuffleSeed) => {
          const clocks = [manualClock(), manualClock(), manualClock()];
          const nodes = await Promise.all(clocks.map((c) => CausalStorage.open({ now: c.now })));
          const written: Version[] = [];
          let rnd = shuffleSeed;
          const shuffle = <T>(xs: T[]): T[] => {
            for (let i = xs.length - 1; i > 0; i--) {
              rnd = (Math.imul(rnd, 1103515245) + 12345) | 0;
              const j = Math.abs(rnd) % (i + 1);
              [xs[i], xs[j]] = [xs[j]!, xs[i]!];
            }
            return xs;
          };
          for (const [i, op] of ops.entries()) {
            const s = nodes[op.node]!;
            clocks[op.node]!.t += op.tick;
            if (op.del && s.contains('n', op.key)) written.push(await s.delete('n', op.key));
            else if (!op.del) written.push(await s.put('n', op.key, i));
            // Partial exchanges along the way: some pairs sync part of the time.
            const sync = syncs[i % Math.max(1, syncs.length)];
            if (sync !== undefined && i % 3 === 0) await nodes[sync[1]]!.applyReplicated(shuffle(everything(nodes[sync[0]]!)));
          }
          // Full exchange in shuffled orders, with orphans retried, until nothing moves.
          for (let round = 0; round < 3; round++) {
            for (const to of nodes) for (const from of nodes) if (to !== from) await to.applyReplicated(shuffle(everything(from)));
          }
          const root = nodes[0]!.stateRoot();
          for (const s of nodes) {
            expect(s.stateRoot()).toBe(root);
            expect(s.stats().versions).toBe(written.length);
            expect((await s.verify()).ok).toBe(true);
          }
          for (const key of ['a', 'b', 'c']) {
            const mine = written.filter((v) => v.key === key);
            if (mine.length === 0) continue;
            const winner = mine.reduce((w, v) => (v.hlc > w.hlc || (v.hlc === w.hlc && v.node > w.node) ? v : w));
            for (const s of nodes) {
              expect(s.history('n', key).at(-1)!.versionId).toBe(winner.versionId);
              expect(s.contains('n', key)).toBe(!winner.deleted);
            }
          }
        },
      ),
      { seed: fcSeed('replication convergence'), numRuns: 150 },
    );
  });
});

describe('applyReplicated while earlier batches are still queued (a durable store)', () => {
  it('stores a version once when two calls carry it, and lets a successor follow a queued predecessor', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const src = await CausalStorage.open();
    const v1 = await src.put('n', 'k', 1);
    const v2 = await src.put('n', 'k', 2);
    const s = await CausalStorage.open({ adapter: new FileAdapter(dir) });
    // Nothing of the first call is committed when the second and third are admitted.
    const [r1, r2, r3] = await Promise.all([s.applyReplicated([wire(v1)]), s.applyReplicated([wire(v1)]), s.applyReplicated([wire(v2)])]);
    expect([r1.applied.length, r2.applied.length, r2.duplicates, r3.applied.length, r3.orphans.length]).toEqual([1, 0, 1, 1, 0]);
    expect(s.history('n', 'k').map((v) => v.versionId)).toEqual([v1.versionId, v2.versionId]);
    expect(s.stats().versions).toBe(2);
    expect(s.stateRoot()).toBe(src.stateRoot());
    await s.close();
  });
});

describe('committedJson', () => {
  it('gives, without materializing values, the JSON of what committed() lists (the reserved namespace only on request)', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const s = await CausalStorage.open({ adapter: new FileAdapter(dir) });
    await s.put('n', 'a', { z: 1, a: [1, 'x', null], 'é': true });
    await s.putSystem('index:n:a', { field: 'a' });
    await s.put('n', 'a', 'two');
    await s.delete('n', 'a');
    await s.put('n', 'b"quoted\\', 0.5);
    const parsed = [...s.committedJson()].map((t) => JSON.parse(t) as unknown);
    expect(parsed).toEqual([...s.committed()].filter((v) => v.namespace !== '_koru').map(wire).map((v) => ({ ...v })));
    expect([...s.committedJson(1, s.seq, true)]).toHaveLength(5);
    expect([...s.committedJson(3, 4)].map((t) => (JSON.parse(t) as Version).value)).toEqual(['two', null]);
    await s.close();
  });
});
