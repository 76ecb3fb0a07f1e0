// The storage model test's model (model.node.test.ts): each key's full history as
// written, the retention policies set, and what retention and purges may have cut.
//
// Background merges cut history at moments the test cannot see, so for each key the
// model keeps a window rather than one answer: the store's kept history is
// `versions.slice(x)` for some x with `minStart ≤ x ≤ maxStart`.
// - `maxStart` (the most that may be gone) grows whenever a merge *could* cut more: each
//   time versions are added, the clock moves or a policy is set, it is raised to what
//   the namespace's policy keeps of the versions then (`keepStart`). A merge job takes
//   its policy and clock when it starts and its inputs were written before, so the
//   largest of these over time bounds every cut (the rule is monotone in the versions).
// - `minStart` (what is surely gone) grows at `compact()` (a full merge applies the
//   policy to every key: after it, x is what the policy keeps, or higher where an earlier
//   merge under another policy cut more), at a purge (everything before the tombstone),
//   and from what reads show (a cut is never undone: a later read showing more fails).
// verify() counts a cut key's horizon record (in the newest cut version's place) as a
// version record: see `recordCount`.
import { ErrorCodes, versionIdOf, type JsonValue } from '@koru/engine';
import { HISTORY_PRUNED, type CausalStorage, type LsmTree, type RetentionPolicy, type Version } from '@koru/storage';
import { expect } from 'vitest';
import { codeOf, type ManualClock } from './conformance.js';

/** One version the model knows of. */
export interface ModelVersion {
  readonly value: JsonValue;
  readonly deleted: boolean;
  /** The HLC's wall part (ms): what the age rule compares. */
  readonly wall: number;
  readonly hlc: string;
  readonly versionId: string;
  /** Its change number. */
  readonly seq: number;
}

/** One key: every version ever written, and the window its kept history lies in. */
export interface ModelKey {
  /** Oldest first. */
  readonly versions: ModelVersion[];
  /** Versions below this index are surely gone. */
  minStart: number;
  /** Versions at or above this index are surely kept. */
  maxStart: number;
}

/** The whole model. */
export interface Model {
  /** `${ns}/${key}` → the key. */
  readonly keys: Map<string, ModelKey>;
  /** Namespace → its policy (keep-all namespaces absent). */
  readonly policies: Map<string, RetentionPolicy>;
  /** The injected wall clock. */
  now: number;
  /** The HLC's wall part: the largest clock reading seen by a write (never decreases). */
  wall: number;
  /** Changes committed (the store's `seq`). */
  seq: number;
  /** Whether anything was ever cut or purged (value counters may then move at merges). */
  everCut: boolean;
}

/** The store under test (and its tree, to wait for its merges), its directory and its clock. */
export interface Real {
  s: CausalStorage;
  tree: LsmTree;
  readonly dir: string;
  readonly clock: ManualClock;
}

/** What the runs exercised (printed at the end of the test, to see the checks had work to do). */
export const coverage = { compactCuts: 0, backgroundCuts: 0, prunedReads: 0, purgedVersions: 0, exactCompacts: 0 };

/** A fresh model at clock `now`. */
export function newModel(now: number): Model {
  return { keys: new Map(), policies: new Map(), now, wall: 0, seq: 0, everCut: false };
}

/** The model's name of a key: `${ns}/${key}`. */
export const id = (ns: string, k: string): string => `${ns}/${k}`;
/** `${ns}/${key}` split back. */
export const split = (k: string): [string, string] => [k.slice(0, k.indexOf('/')), k.slice(k.indexOf('/') + 1)];
/** Whether the key's current version is a live value. */
export const live = (k: ModelKey | undefined): boolean =>
  k !== undefined && k.versions.length > 0 && !k.versions[k.versions.length - 1]!.deleted;
/** Plain JSON the way the store returns it (-0 becomes 0, keys as own data). */
export const plain = (v: unknown): JsonValue => JSON.parse(JSON.stringify(v)) as JsonValue;

/** Moves the clock (the model's and the store's) by `dt` ms. */
export function advance(m: Model, r: Real, dt: number): void {
  m.now += dt;
  r.clock.t = m.now;
  if (dt > 0) widen(m);
}

/**
 * The index of the oldest version a merge seeing all of `versions` keeps under `policy`
 * at time `now` (retention-filter.ts): last N keeps the N newest; max age keeps versions
 * down to the newest one whose clock is at or before now − D; the newest is never cut.
 */
export function keepStart(policy: RetentionPolicy | undefined, versions: readonly ModelVersion[], now: number): number {
  if (policy === undefined || 'keep' in policy) return 0;
  if ('lastVersions' in policy) return Math.max(0, versions.length - policy.lastVersions);
  const cutoff = now - policy.maxAgeMs;
  for (let i = versions.length - 1; i >= 0; i--) if (versions[i]!.wall <= cutoff) return i;
  return 0;
}

/** Raises every key's `maxStart` to what a merge starting now could cut. */
export function widen(m: Model): void {
  for (const [k, mk] of m.keys) {
    const start = keepStart(m.policies.get(split(k)[0]), mk.versions, m.now);
    if (start > mk.maxStart) mk.maxStart = start;
  }
}

/** Adds a version the store acknowledged, checking it against the model. */
export function record(m: Model, v: Version, value: JsonValue, deleted: boolean): void {
  m.wall = Math.max(m.wall, m.now);
  const k = id(v.namespace, v.key);
  const mk = m.keys.get(k) ?? { versions: [], minStart: 0, maxStart: 0 };
  const list = mk.versions;
  expect(v.previousVersion).toBe(list.length > 0 ? list[list.length - 1]!.versionId : null);
  expect(v.timestamp).toBe(new Date(m.wall).toISOString());
  expect(v.deleted).toBe(deleted);
  expect(v.value).toEqual(value);
  expect(v.versionId).toBe(versionIdOf(v));
  m.seq++;
  list.push({ value, deleted, wall: m.wall, hlc: v.hlc, versionId: v.versionId, seq: m.seq });
  m.keys.set(k, mk);
  widen(m);
}

/** A version as the model holds it (without its change number). */
export const asModel = (v: Version): Omit<ModelVersion, 'seq'> => ({
  value: v.value,
  deleted: v.deleted,
  wall: Date.parse(v.timestamp),
  hlc: v.hlc,
  versionId: v.versionId,
});

/** A model version without its change number (to compare with {@link asModel}'s). */
export const withoutSeq = ({ seq: _, ...v }: ModelVersion): Omit<ModelVersion, 'seq'> => v;

/**
 * Reads the key's history from the store and checks it is the model's from some x in
 * the key's window, chained to the version before x; narrows the window to x.
 */
export function observeHistory(m: Model, r: Real, ns: string, key: string): Version[] {
  const mk = m.keys.get(id(ns, key));
  if (mk === undefined) {
    expect(codeOf(() => r.s.history(ns, key))).toBe(ErrorCodes.KEY_NOT_FOUND);
    return [];
  }
  const h = r.s.history(ns, key);
  const x = mk.versions.length - h.length;
  const label = `${ns}/${key}: kept from #${x} of ${mk.versions.length}, allowed #${mk.minStart}..#${mk.maxStart}`;
  expect(x, label).toBeGreaterThanOrEqual(mk.minStart);
  expect(x, label).toBeLessThanOrEqual(mk.maxStart);
  expect(h.map(asModel), label).toEqual(mk.versions.slice(x).map(withoutSeq));
  let prev: string | null = x > 0 ? mk.versions[x - 1]!.versionId : null;
  for (const v of h) {
    expect(v.previousVersion, label).toBe(prev);
    prev = v.versionId;
  }
  if (x > mk.minStart) coverage.backgroundCuts++;
  mk.minStart = x;
  return h;
}

/** The index of `versionId` among the key's versions (fails when it is not one). */
function indexOfId(mk: ModelKey, versionId: string): number {
  const i = mk.versions.findIndex((v) => v.versionId === versionId);
  expect(i, `horizon ${versionId} is not a version of the key`).toBeGreaterThanOrEqual(0);
  return i;
}

/**
 * Checks a read of the version at index `f` (−1: before the first): `read` must give
 * the model's answer (the version; for f = −1, or a tombstone unless `tombstonesAnswer`, KEY_NOT_FOUND) when
 * f is surely kept, HISTORY_PRUNED naming a kept version when surely cut, either one
 * in between (HISTORY_PRUNED then narrows the window).
 */
export function checkPastRead(mk: ModelKey, f: number, read: () => Version, label: string, tombstonesAnswer = false): void {
  const fv = f >= 0 ? mk.versions[f] : undefined;
  let got: Version | undefined;
  let error: { code?: string; details?: { horizon?: { versionId?: string } } } | undefined;
  try {
    got = read();
  } catch (e) {
    error = e as typeof error;
  }
  const pruned = error?.code === HISTORY_PRUNED;
  // f = −1 reads "before the first version": pruned whenever anything at all was cut.
  const surelyCut = f < mk.minStart && !(f === -1 && mk.minStart === 0);
  const surelyKept = f >= mk.maxStart || (f === -1 && mk.maxStart === 0);
  const ctx = `${label}: #${f} of ${mk.versions.length}, kept from #${mk.minStart}..#${mk.maxStart}`;
  if (surelyCut) expect(error?.code, ctx).toBe(HISTORY_PRUNED);
  if (surelyKept) expect(error?.code, ctx).not.toBe(HISTORY_PRUNED);
  if (pruned) {
    // The horizon named is the oldest kept version: after f, inside the window.
    const h = indexOfId(mk, error!.details?.horizon?.versionId ?? '');
    expect(h, ctx).toBeGreaterThan(f);
    expect(h, ctx).toBeGreaterThanOrEqual(mk.minStart);
    expect(h, ctx).toBeLessThanOrEqual(mk.maxStart);
    mk.minStart = h;
    coverage.prunedReads++;
    return;
  }
  if (fv === undefined || (fv.deleted && !tombstonesAnswer)) expect(error?.code ?? `answered ${got?.versionId}`, ctx).toBe(ErrorCodes.KEY_NOT_FOUND);
  else {
    expect(error, ctx).toBeUndefined();
    expect(asModel(got!), ctx).toEqual(withoutSeq(fv));
  }
}

/** Every key's history observed (narrowing the windows). */
export function observeAll(m: Model, r: Real): void {
  for (const k of m.keys.keys()) observeHistory(m, r, ...split(k));
}

/**
 * The version records verify() counts for starts at each key's `minStart`: the kept
 * versions, and one horizon record for each key with a cut (it stands in the newest cut
 * version's place).
 */
export const recordCount = (m: Model): number =>
  [...m.keys.values()].reduce((n, mk) => n + mk.versions.length - mk.minStart + (mk.minStart > 0 ? 1 : 0), 0);

/** Namespaces, keys, policies, counts and verify() agree with the model (histories observed around the verify). */
export async function checkWhole(m: Model, r: Real, namespaces: readonly string[]): Promise<void> {
  const liveKeys = new Map<string, string[]>();
  for (const [k, mk] of m.keys) {
    if (!live(mk)) continue;
    const [ns, key] = split(k);
    liveKeys.set(ns, [...(liveKeys.get(ns) ?? []), key]);
  }
  expect(r.s.listNamespaces()).toEqual([...liveKeys.keys()].sort());
  for (const ns of namespaces) expect(r.s.listKeys(ns)).toEqual((liveKeys.get(ns) ?? []).sort());
  expect(r.s.stats()).toMatchObject({ versions: m.seq, keys: [...liveKeys.values()].reduce((n, ks) => n + ks.length, 0) });
  expect(r.s.seq).toBe(m.seq);
  checkPolicies(m, r);
  // Background merges may cut while verify runs: it counts between the two observations.
  observeAll(m, r);
  const most = recordCount(m);
  const report = await r.s.verify();
  observeAll(m, r);
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.versions).toBeGreaterThanOrEqual(recordCount(m));
  expect(report.versions).toBeLessThanOrEqual(most);
}

/** The store's policies are the model's. */
export function checkPolicies(m: Model, r: Real): void {
  expect(r.s.retentionPolicies()).toEqual([...m.policies].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}
