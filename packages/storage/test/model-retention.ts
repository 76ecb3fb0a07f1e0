// The storage model test's retention, purge and compaction commands (model.node.test.ts;
// the model's rules are in model-state.ts).
import { ErrorCodes, parseHlc } from '@koru/engine';
import { HISTORY_PRUNED, type Change, type RetentionPolicy } from '@koru/storage';
import type fc from 'fast-check';
import { expect } from 'vitest';
import { codeOf, rejectionCode } from './conformance.js';
import { advance, asModel, checkPolicies, coverage, checkPastRead, checkWhole, id, keepStart, live, observeHistory, record, split, widen, withoutSeq, type Model, type Real } from './model-state.js';

/** `setRetention(ns, policy)`: stored and reported back; merges from now on may cut by it. */
export class SetRetentionCmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly ns: string,
    readonly policy: RetentionPolicy,
  ) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    expect(await r.s.setRetention(this.ns, this.policy)).toEqual(this.policy);
    if ('keep' in this.policy) m.policies.delete(this.ns);
    else {
      m.policies.set(this.ns, this.policy);
      m.everCut = true;
    }
    expect(r.s.retention(this.ns)).toEqual(this.policy);
    checkPolicies(m, r);
    widen(m);
  }
  toString = (): string => `setRetention(${this.ns}, ${JSON.stringify(this.policy)})`;
}

/**
 * `purge(ns, key)`: a tombstone (unless the head is one), everything before it removed
 * (the ids it reports, newest first, are the model's from the window), afterwards
 * `get` not found, `history` the tombstone alone, reads before it HISTORY_PRUNED.
 */
export class PurgeCmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly ns: string,
    readonly key: string,
    readonly dt: number,
  ) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    advance(m, r, this.dt);
    const mk = m.keys.get(id(this.ns, this.key));
    if (mk === undefined) {
      expect(await rejectionCode(r.s.purge(this.ns, this.key))).toBe(ErrorCodes.KEY_NOT_FOUND);
      return;
    }
    const wasLive = live(mk);
    const result = await r.s.purge(this.ns, this.key);
    if (wasLive) {
      // The purge's tombstone: a delete like any other, the newest version of the key.
      const h = r.s.history(this.ns, this.key);
      expect(h).toHaveLength(1);
      record(m, h[0]!, null, true);
    }
    const tomb = mk.versions.length - 1;
    expect(result).toMatchObject({ namespace: this.ns, key: this.key, tombstone: mk.versions[tomb]!.versionId });
    const x = tomb - result.removed.length;
    const label = `purge removed ${result.removed.length} of ${tomb} before the tombstone, kept from #${mk.minStart}..#${mk.maxStart}`;
    expect(x, label).toBeGreaterThanOrEqual(Math.min(mk.minStart, tomb));
    expect(x, label).toBeLessThanOrEqual(mk.maxStart);
    expect(result.removed, label).toEqual(mk.versions.slice(x, tomb).map((v) => v.versionId).reverse());
    coverage.purgedVersions += result.removed.length;
    mk.minStart = tomb;
    mk.maxStart = tomb;
    m.everCut = true;
    expect(codeOf(() => r.s.get(this.ns, this.key))).toBe(ErrorCodes.KEY_NOT_FOUND);
    expect(r.s.contains(this.ns, this.key)).toBe(false);
    expect(observeHistory(m, r, this.ns, this.key)).toHaveLength(1);
    if (tomb > 0) {
      const before = mk.versions[tomb - 1]!;
      checkPastRead(mk, tomb - 1, () => r.s.getAt(this.ns, this.key, parseHlc(before.hlc)), 'getAt before the purge');
      checkPastRead(mk, tomb - 1, () => r.s.getVersionById(this.ns, this.key, before.versionId), 'getVersionById before the purge', true);
    }
  }
  toString = (): string => `purge(${this.ns}, ${this.key}, +${this.dt}ms)`;
}

/** `compact()`: every key cut to what its policy keeps now (or less); counts unchanged. */
export class CompactCmd implements fc.AsyncCommand<Model, Real> {
  /**
   * With `boundary`, the clock is first set so that an age policy's cutoff falls on a
   * version's clock (`offset` 0), or 1 ms either side: the rule's edge (a version at the
   * cutoff is the one current there, kept; the ones before it go).
   */
  constructor(
    readonly namespaces: readonly string[],
    readonly boundary?: { readonly pick: number; readonly offset: -1 | 0 | 1 },
  ) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    if (this.boundary !== undefined) {
      const aged = [...m.keys].filter(([k]) => 'maxAgeMs' in (m.policies.get(split(k)[0]) ?? {}));
      const versions = aged.flatMap(([k, mk]) => mk.versions.map((v) => ({ v, ns: split(k)[0] })));
      if (versions.length > 0) {
        const { v, ns } = versions[this.boundary.pick % versions.length]!;
        const { maxAgeMs } = m.policies.get(ns) as { maxAgeMs: number };
        advance(m, r, v.wall + maxAgeMs + this.boundary.offset - m.now);
      }
    }
    const before = r.s.stats();
    await r.s.compact();
    const after = r.s.stats();
    expect(after.versions).toBe(before.versions);
    // Value counters move only when something was cut (large values reclaimed).
    if (!m.everCut) expect(after.distinctValues).toBe(before.distinctValues);
    // The full merge saw every version of every key: at most what the policy keeps is left.
    for (const [k, mk] of m.keys) {
      const start = keepStart(m.policies.get(split(k)[0]), mk.versions, m.now);
      if (start > mk.minStart) {
        mk.minStart = start;
        coverage.compactCuts++;
      }
      if (start > 0 && mk.minStart === mk.maxStart) coverage.exactCompacts++;
    }
    await checkWhole(m, r, this.namespaces);
  }
  toString = (): string => (this.boundary === undefined ? 'compact' : `compact at an age cutoff (#${this.boundary.pick}${this.boundary.offset >= 0 ? '+' : ''}${this.boundary.offset}ms)`);
}

/**
 * `changeAt(seq)`: a kept version's change (its predecessor's value when that is kept,
 * null and an update when it was cut); for a cut version HISTORY_PRUNED, at or below
 * `prunedThroughSeq`, saying to resync from the current seq.
 *
 * The change asked for may be the one the store built last (it keeps one for the
 * subscribers that ask in turn): a purge or a cut since must still be seen.
 */
export class ChangeCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (): boolean => true;
  async run(m: Model, r: Real): Promise<void> {
    if (m.seq === 0) return;
    const seq = 1 + (this.pick % m.seq);
    const [mk, f] = [...m.keys.values()].map((k) => [k, k.versions.findIndex((v) => v.seq === seq)] as const).find(([, i]) => i >= 0)!;
    const v = mk.versions[f]!;
    const label = `changeAt(${seq}): #${f} of ${mk.versions.length}, kept from #${mk.minStart}..#${mk.maxStart}`;
    let change: Change | undefined;
    let error: { code?: string; details?: { resyncFrom?: number } } | undefined;
    try {
      change = r.s.changeAt(seq);
    } catch (e) {
      error = e as typeof error;
    }
    if (f < mk.minStart) expect(error?.code, label).toBe(HISTORY_PRUNED);
    if (f >= mk.maxStart) expect(error, label).toBeUndefined();
    if (error !== undefined) {
      expect(error.code, label).toBe(HISTORY_PRUNED);
      expect(seq, label).toBeLessThanOrEqual(r.s.prunedThroughSeq);
      expect(error.details?.resyncFrom, label).toBe(m.seq);
      // Its version is gone: so is every older one.
      if (f + 1 > mk.minStart) mk.minStart = f + 1;
      coverage.prunedReads++;
      return;
    }
    expect(change!.seq, label).toBe(seq);
    expect(asModel(change!.version), label).toEqual(withoutSeq(v));
    if (v.deleted) expect(change!.changeType, label).toBe('delete');
    const prev = f > 0 ? mk.versions[f - 1] : undefined;
    if (prev === undefined || f - 1 >= mk.maxStart) {
      const previousValue = prev === undefined || prev.deleted ? null : prev.value;
      expect(change!.previousValue, label).toEqual(previousValue);
      if (!v.deleted) expect(change!.changeType, label).toBe(previousValue === null ? 'insert' : 'update');
    } else if (f - 1 < mk.minStart) {
      // Its predecessor was cut: it replaced something, whose value is gone.
      expect(change!.previousValue, label).toBeNull();
      if (!v.deleted) expect(change!.changeType, label).toBe('update');
    }
  }
  toString = (): string => `changeAt(#${this.pick})`;
}
