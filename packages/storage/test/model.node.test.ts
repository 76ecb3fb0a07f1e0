// Model-based test: random sequences of writes, reads, time travel, clock steps,
// reopens and compactions against CausalStorage over FileAdapter, checked against a
// plain in-memory model of what each key's history must be.
import { ErrorCodes, versionIdOf, type JsonValue } from '@koru/engine';
import { CausalStorage, type Version } from '@koru/storage';
import { FileAdapter } from '@koru/storage/node';
import { fcSeed, tempDir } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codeOf, manualClock, rejectionCode, type ManualClock } from './conformance.js';

interface ModelVersion {
  readonly value: JsonValue;
  readonly deleted: boolean;
  readonly wall: number;
  readonly versionId: string;
}

interface Model {
  /** `${ns}/${key}` → versions, oldest first. */
  readonly keys: Map<string, ModelVersion[]>;
  /** The injected wall clock. */
  now: number;
  /** The HLC's wall part: the largest clock reading seen by a write (never decreases). */
  wall: number;
}

interface Real {
  s: CausalStorage;
  readonly dir: string;
  readonly clock: ManualClock;
}

const NAMESPACES = ['m', 'constructor'] as const;
const KEYS = ['a', 'b', '__proto__', 'x/y:z'] as const;
const SHARED_VALUES: JsonValue[] = [null, 0, 'same', { shared: [1, 2, 3] }, { __proto__x: 1 }];

const openReal = (dir: string, clock: ManualClock) =>
  CausalStorage.open({ now: clock.now, adapter: new FileAdapter(dir, { memtableBytes: 2048, syncIntervalMs: 5 }) });

const id = (ns: string, k: string) => `${ns}/${k}`;
const live = (vs: ModelVersion[] | undefined) => vs !== undefined && vs.length > 0 && !vs[vs.length - 1]!.deleted;
/** Plain JSON the way the store returns it (-0 becomes 0, keys as own data). */
const plain = (v: unknown): JsonValue => JSON.parse(JSON.stringify(v)) as JsonValue;

function advance(m: Model, r: Real, dt: number): void {
  m.now += dt;
  r.clock.t = m.now;
}

function record(m: Model, v: Version, value: JsonValue, deleted: boolean): void {
  m.wall = Math.max(m.wall, m.now);
  const list = m.keys.get(id(v.namespace, v.key)) ?? [];
  expect(v.previousVersion).toBe(list.length > 0 ? list[list.length - 1]!.versionId : null);
  expect(v.timestamp).toBe(new Date(m.wall).toISOString());
  expect(v.deleted).toBe(deleted);
  expect(v.value).toEqual(value);
  expect(v.versionId).toBe(versionIdOf(v));
  list.push({ value, deleted, wall: m.wall, versionId: v.versionId });
  m.keys.set(id(v.namespace, v.key), list);
}

class PutCmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly ns: string,
    readonly key: string,
    readonly value: JsonValue,
    readonly dt: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    advance(m, r, this.dt);
    const v = await r.s.put(this.ns, this.key, this.value);
    record(m, v, plain(this.value), false);
  }
  toString = () => `put(${this.ns}, ${this.key}, ${JSON.stringify(this.value)}, +${this.dt}ms)`;
}

class PutManyCmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly items: ReadonlyArray<{ ns: string; key: string; value: JsonValue }>,
    readonly dt: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    advance(m, r, this.dt);
    const vs = await r.s.putMany(this.items.map((i) => ({ namespace: i.ns, key: i.key, value: i.value })));
    expect(vs).toHaveLength(this.items.length);
    vs.forEach((v, i) => record(m, v, plain(this.items[i]!.value), false));
  }
  toString = () => `putMany(${JSON.stringify(this.items)}, +${this.dt}ms)`;
}

class DeleteCmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly ns: string,
    readonly key: string,
    readonly dt: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    advance(m, r, this.dt);
    if (!live(m.keys.get(id(this.ns, this.key)))) {
      expect(await rejectionCode(r.s.delete(this.ns, this.key))).toBe(ErrorCodes.KEY_NOT_FOUND);
      return;
    }
    record(m, await r.s.delete(this.ns, this.key), null, true);
  }
  toString = () => `delete(${this.ns}, ${this.key}, +${this.dt}ms)`;
}

class ClockBackCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly dt: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    advance(m, r, -this.dt);
  }
  toString = () => `clock -${this.dt}ms`;
}

class GetCmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly ns: string,
    readonly key: string,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const vs = m.keys.get(id(this.ns, this.key));
    expect(r.s.contains(this.ns, this.key)).toBe(live(vs));
    if (!live(vs)) expect(codeOf(() => r.s.get(this.ns, this.key))).toBe(ErrorCodes.KEY_NOT_FOUND);
    else {
      const head = vs![vs!.length - 1]!;
      expect(r.s.get(this.ns, this.key)).toEqual(head.value);
      expect(r.s.getVersion(this.ns, this.key).versionId).toBe(head.versionId);
    }
  }
  toString = () => `get(${this.ns}, ${this.key})`;
}

class HistoryCmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly ns: string,
    readonly key: string,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const vs = m.keys.get(id(this.ns, this.key));
    if (vs === undefined) {
      expect(codeOf(() => r.s.history(this.ns, this.key))).toBe(ErrorCodes.KEY_NOT_FOUND);
      return;
    }
    const h = r.s.history(this.ns, this.key);
    expect(
      h.map((v) => ({ value: v.value, deleted: v.deleted, wall: Date.parse(v.timestamp), versionId: v.versionId })),
    ).toEqual(vs);
    let prev: string | null = null;
    for (const v of h) {
      expect(v.previousVersion).toBe(prev);
      prev = v.versionId;
    }
  }
  toString = () => `history(${this.ns}, ${this.key})`;
}

class GetAtCmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly ns: string,
    readonly key: string,
    readonly pick: number,
    readonly delta: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const vs = m.keys.get(id(this.ns, this.key)) ?? [];
    // Probe near an existing version's time (exact hits included), or near "now".
    const t = (vs.length > 0 ? vs[this.pick % vs.length]!.wall : m.now) + this.delta;
    let found: ModelVersion | undefined;
    for (const v of vs) if (v.wall <= t) found = v;
    if (found === undefined || found.deleted) expect(codeOf(() => r.s.getAt(this.ns, this.key, t))).toBe(ErrorCodes.KEY_NOT_FOUND);
    else expect(r.s.getAt(this.ns, this.key, t).versionId).toBe(found.versionId);
  }
  toString = () => `getAt(${this.ns}, ${this.key}, #${this.pick}${this.delta >= 0 ? '+' : ''}${this.delta})`;
}

class ReopenCmd implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    await r.s.close();
    r.s = await openReal(r.dir, r.clock);
    expect(r.s.recovery.truncated).toBeUndefined();
    await checkWhole(m, r);
  }
  toString = () => 'reopen';
}

class CompactCmd implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const before = r.s.stats();
    await r.s.compact();
    const after = r.s.stats();
    expect(after.versions).toBe(before.versions);
    expect(after.distinctValues).toBe(before.distinctValues);
    await checkWhole(m, r);
  }
  toString = () => 'compact';
}

/** Namespaces, keys, counts and verify() agree with the model. */
async function checkWhole(m: Model, r: Real): Promise<void> {
  const liveKeys = new Map<string, string[]>();
  let versions = 0;
  for (const [k, vs] of m.keys) {
    versions += vs.length;
    if (!live(vs)) continue;
    const slash = k.indexOf('/');
    const ns = k.slice(0, slash);
    liveKeys.set(ns, [...(liveKeys.get(ns) ?? []), k.slice(slash + 1)]);
  }
  expect(r.s.listNamespaces()).toEqual([...liveKeys.keys()].sort());
  for (const ns of NAMESPACES) expect(r.s.listKeys(ns)).toEqual((liveKeys.get(ns) ?? []).sort());
  expect(r.s.stats()).toMatchObject({ versions, keys: [...liveKeys.values()].reduce((n, ks) => n + ks.length, 0) });
  expect(await r.s.verify()).toMatchObject({ ok: true, versions });
}

const ns = fc.constantFrom(...NAMESPACES);
const key = fc.constantFrom(...KEYS);
const value: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.constantFrom(...SHARED_VALUES),
  fc.jsonValue({ maxDepth: 2, stringUnit: 'grapheme' }) as fc.Arbitrary<JsonValue>,
);
const dt = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 20 }));

const allCommands = [
  fc.tuple(ns, key, value, dt).map(([n, k, v, d]) => new PutCmd(n, k, v, d)),
  fc.tuple(ns, key, value, dt).map(([n, k, v, d]) => new PutCmd(n, k, v, d)),
  fc
    .tuple(fc.array(fc.record({ ns, key, value }), { minLength: 1, maxLength: 4 }), dt)
    .map(([items, d]) => new PutManyCmd(items, d)),
  fc.tuple(ns, key, dt).map(([n, k, d]) => new DeleteCmd(n, k, d)),
  fc.integer({ min: 1, max: 40 }).map((d) => new ClockBackCmd(d)),
  fc.tuple(ns, key).map(([n, k]) => new GetCmd(n, k)),
  fc.tuple(ns, key).map(([n, k]) => new HistoryCmd(n, k)),
  fc
    .tuple(ns, key, fc.nat(), fc.oneof(fc.constantFrom(-1, 0, 1), fc.integer({ min: -50, max: 50 })))
    .map(([n, k, p, d]) => new GetAtCmd(n, k, p, d)),
  fc.constant(new ReopenCmd()),
  fc.constant(new CompactCmd()),
];

describe('CausalStorage over FileAdapter against a model', () => {
  it('agrees with the model through writes, time travel, clock steps, reopens and compactions', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(allCommands, { maxCommands: 40, size: 'max' }), async (cmds) => {
        const { dir, cleanup } = tempDir('koru-model-');
        const clock = manualClock(1_700_000_000_000);
        const real: Real = { s: await openReal(dir, clock), dir, clock };
        try {
          const model: Model = { keys: new Map(), now: clock.t, wall: 0 };
          await fc.asyncModelRun(() => ({ model, real }), cmds);
          // Whatever happened, a final reopen shows the same state.
          await new ReopenCmd().run(model, real);
          for (const [k, vs] of model.keys) {
            const [n, kk] = [k.slice(0, k.indexOf('/')), k.slice(k.indexOf('/') + 1)];
            expect(real.s.history(n, kk).map((v) => v.versionId)).toEqual(vs.map((v) => v.versionId));
          }
        } finally {
          await real.s.close();
          cleanup();
        }
      }),
      { seed: fcSeed('storage model'), numRuns: 30 },
    );
  });
});
