// The storage-adapter conformance suite: every StorageAdapter runs it through
// `runStorageConformance(name, factory)` (STYLE 6). Durable adapters additionally get
// every state checked again after close + reopen. Platform-neutral: SHA-256 is
// recomputed with WebCrypto, time comes from an injected clock.
import { ErrorCodes, parseHlc, versionIdOf, type JsonValue } from '@koru/engine';
import { CausalStorage, type CausalStorageOptions, type Version } from '@koru/storage';
import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** One fresh store handed to a conformance test. */
export interface ConformanceHarness {
  /** What `stats().adapter` reports. */
  readonly adapter: string;
  /** A fresh, empty store opened with the options given to the factory. */
  readonly storage: CausalStorage;
  /**
   * Durable adapters: closes the newest storage if still open and opens the same data
   * again with the same options. `null` for adapters that keep nothing.
   */
  readonly reopen: (() => Promise<CausalStorage>) | null;
  /** Closes whatever is still open and removes the adapter's files. */
  readonly dispose: () => Promise<void>;
}

/** Builds a fresh store; `options` never contains `adapter`. */
export type ConformanceFactory = (options?: Omit<CausalStorageOptions, 'adapter'>) => Promise<ConformanceHarness>;

/** A clock tests move by hand. */
export interface ManualClock {
  t: number;
  readonly now: () => number;
}

/** A wall clock that returns `t` until it is changed. */
export function manualClock(t = Date.UTC(2024, 0, 1)): ManualClock {
  const c = { t, now: () => c.t };
  return c;
}

/** Runs `fn` (sync) and returns the KoruError code it threw. */
export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? `not a KoruError: ${String(e)}`;
  }
  throw new Error('expected the call to throw');
}

/** The code a promise rejects with. */
export async function rejectionCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? `not a KoruError: ${String(e)}`;
  }
  throw new Error('expected the promise to reject');
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** RFC 8785 input of a version id, built independently of @koru/engine (keys in sorted order). */
function versionIdText(v: Version): string {
  return JSON.stringify({
    deleted: v.deleted,
    hlc: v.hlc,
    key: v.key,
    namespace: v.namespace,
    node: v.node,
    previousVersion: v.previousVersion,
    valueId: v.valueId,
  });
}

/** Asserts `history` is an intact hash chain; returns it. */
function expectChain(history: readonly Version[]): readonly Version[] {
  let prev: string | null = null;
  let prevHlc = '';
  let prevTs = '';
  for (const v of history) {
    expect(v.previousVersion).toBe(prev);
    expect(v.versionId).toBe(versionIdOf(v));
    expect(v.hlc > prevHlc, `hlc ${v.hlc} after ${prevHlc}`).toBe(true);
    expect(v.timestamp >= prevTs, `timestamp ${v.timestamp} after ${prevTs}`).toBe(true);
    prev = v.versionId;
    prevHlc = v.hlc;
    prevTs = v.timestamp;
  }
  return history;
}

/** A comparable dump of what a store holds for `keys` (every version, tombstones included). */
function dump(s: CausalStorage, keys: ReadonlyArray<readonly [string, string]>): unknown {
  return keys.map(([ns, k]) => {
    try {
      return [ns, k, s.history(ns, k)];
    } catch (e) {
      if ((e as { code?: string }).code === ErrorCodes.KEY_NOT_FOUND) return [ns, k, null];
      throw e;
    }
  });
}

/** Runs the shared suite against the adapter `factory` builds. */
export function runStorageConformance(name: string, factory: ConformanceFactory): void {
  /**
   * Opens a fresh store, runs `fill` on it, runs `check` on the live store and, for
   * durable adapters, again after close + reopen (and once more after a second
   * reopen, so state written by one reopened session survives the next).
   */
  async function scenario(
    options: Omit<CausalStorageOptions, 'adapter'>,
    /** Writes the state; returns the store to check when it reopened one itself. */
    fill: (s: CausalStorage, h: ConformanceHarness) => Promise<CausalStorage | void>,
    check: (s: CausalStorage, phase: 'live' | 'reopened') => void | Promise<void>,
  ): Promise<void> {
    const h = await factory(options);
    try {
      expect(h.storage.stats().adapter).toBe(h.adapter);
      const live = (await fill(h.storage, h)) ?? h.storage;
      await check(live, 'live');
      if (h.reopen !== null) {
        const nodeId = live.nodeId;
        const s = await h.reopen();
        expect(s.nodeId).toBe(nodeId);
        await check(s, 'reopened');
        await check(await h.reopen(), 'reopened');
      }
    } finally {
      await h.dispose();
    }
  }

  describe(`storage conformance: ${name}`, () => {
    it('put returns a frozen, content-addressed version that get and getVersion serve', async () => {
      const clock = manualClock(Date.UTC(2024, 4, 6, 7, 8, 9, 123));
      const input: { b: unknown[]; a: { d: boolean; c: null }; n: number } = { b: [1, 'x'], a: { d: true, c: null }, n: -0 };
      let put: Version | undefined;
      await scenario(
        { now: clock.now },
        async (s) => {
          put = await s.put('users', 'alice', input);
          // The store kept its own copy.
          input.b.push('mutated');
          input.a.d = false;
        },
        async (s) => {
          const v = s.getVersion('users', 'alice');
          expect(v).toEqual(put);
          expect(v).toEqual({
            namespace: 'users',
            key: 'alice',
            value: { a: { c: null, d: true }, b: [1, 'x'], n: 0 },
            valueId: await sha256Hex('{"a":{"c":null,"d":true},"b":[1,"x"],"n":0}'),
            versionId: await sha256Hex(versionIdText(v)),
            previousVersion: null,
            timestamp: '2024-05-06T07:08:09.123Z',
            hlc: `${String(clock.t).padStart(15, '0')}-000000`,
            node: s.nodeId,
            deleted: false,
          });
          expect(s.get('users', 'alice')).toEqual(v.value);
          expect(s.contains('users', 'alice')).toBe(true);
          expect(Object.isFrozen(v)).toBe(true);
          const value = v.value as { a: object; b: unknown[] };
          expect(Object.isFrozen(value) && Object.isFrozen(value.a) && Object.isFrozen(value.b)).toBe(true);
          expect(() => (value.b as unknown[]).push(2)).toThrow(TypeError);
          expect(s.nodeId).toMatch(/^[0-9a-f]{16}$/);
        },
      );
    });

    it('stores every kind of JSON value, including scalars and unicode keys', async () => {
      const values: Array<[string, JsonValue]> = [
        ['null', null],
        ['true', true],
        ['false', false],
        ['zero', 0],
        ['float', 1.5e-7],
        ['big', 1e21],
        ['string', 'héllo ✓ 😀 "quoted" \\ \n line'],
        ['empty-string', ''],
        ['empty-array', []],
        ['empty-object', {}],
        ['nested', { z: [{ y: [[]] }], 'ü': 'ß', '😀': 1 }],
      ];
      await scenario(
        {},
        async (s) => {
          for (const [k, v] of values) await s.put('json', k, v);
          await s.put('json', 'ключ/with:slash 😀', 'unicode key');
        },
        async (s) => {
          for (const [k, v] of values) expect(s.get('json', k)).toEqual(v);
          expect(s.get('json', 'ключ/with:slash 😀')).toBe('unicode key');
          expect((await s.verify()).ok).toBe(true);
        },
      );
    });

    it('valueId is the SHA-256 of the canonical JSON: same value, any key order, same id', async () => {
      await scenario(
        {},
        async (s) => {
          await s.put('v', 'a', { x: 1, y: [true, null, 'é'] });
          await s.put('v', 'b', { y: [true, null, 'é'], x: 1 });
          await s.put('v', 'c', 'text');
        },
        async (s) => {
          const a = s.getVersion('v', 'a');
          const b = s.getVersion('v', 'b');
          expect(a.valueId).toBe(await sha256Hex('{"x":1,"y":[true,null,"é"]}'));
          expect(b.valueId).toBe(a.valueId);
          expect(a.versionId).not.toBe(b.versionId);
          expect(s.getVersion('v', 'c').valueId).toBe(await sha256Hex('"text"'));
        },
      );
    });

    it('rejects missing keys and malformed names with typed errors', async () => {
      await scenario(
        {},
        async (s) => {
          await s.put('ns', 'present', 1);
          expect(await rejectionCode(s.put('_internal', 'k', 1))).toBe(ErrorCodes.INVALID_NAMESPACE);
          expect(await rejectionCode(s.put('n'.repeat(129), 'k', 1))).toBe(ErrorCodes.INVALID_NAMESPACE);
          expect(await rejectionCode(s.put('ns', 'x'.repeat(1025), 1))).toBe(ErrorCodes.INVALID_KEY);
          expect(await rejectionCode(s.put('ns', 'é'.repeat(513), 1))).toBe(ErrorCodes.INVALID_KEY);
          expect(await rejectionCode(s.put('ns', '\uD800', 1))).toBe(ErrorCodes.INVALID_KEY);
          expect(await rejectionCode(s.put('ns', 'k', undefined))).toBe(ErrorCodes.INVALID_VALUE);
          expect(await rejectionCode(s.put('ns', 'k', { f: () => 1 }))).toBe(ErrorCodes.INVALID_VALUE);
          expect(await rejectionCode(s.put('ns', 'k', Number.NaN))).toBe(ErrorCodes.INVALID_VALUE);
          expect(await rejectionCode(s.put('ns', 'k', new Date(0)))).toBe(ErrorCodes.INVALID_VALUE);
          const cyclic: Record<string, unknown> = {};
          cyclic.self = cyclic;
          expect(await rejectionCode(s.put('ns', 'k', cyclic))).toBe(ErrorCodes.INVALID_VALUE);
          // The longest legal names work.
          await s.put('n'.repeat(128), 'é'.repeat(512), 'max');
          await s.put('n'.repeat(128), 'é'.repeat(511) + 'e', 'max');
          await s.delete('n'.repeat(128), 'é'.repeat(512));
        },
        (s) => {
          expect(codeOf(() => s.get('ns', 'absent'))).toBe(ErrorCodes.KEY_NOT_FOUND);
          expect(codeOf(() => s.get('ns', 'k'))).toBe(ErrorCodes.KEY_NOT_FOUND);
          expect(codeOf(() => s.getVersion('other', 'present'))).toBe(ErrorCodes.KEY_NOT_FOUND);
          expect(codeOf(() => s.history('ns', 'absent'))).toBe(ErrorCodes.KEY_NOT_FOUND);
          expect(codeOf(() => s.getAt('ns', 'absent', Date.now()))).toBe(ErrorCodes.KEY_NOT_FOUND);
          expect(codeOf(() => s.get('_internal', 'k'))).toBe(ErrorCodes.INVALID_NAMESPACE);
          expect(codeOf(() => s.get('has space', 'k'))).toBe(ErrorCodes.INVALID_NAMESPACE);
          expect(codeOf(() => s.get('', 'k'))).toBe(ErrorCodes.INVALID_NAMESPACE);
          expect(codeOf(() => s.get('ns', ''))).toBe(ErrorCodes.INVALID_KEY);
          expect(codeOf(() => s.get('ns', 'a\u0000b'))).toBe(ErrorCodes.INVALID_KEY);
          expect(s.get('n'.repeat(128), 'é'.repeat(511) + 'e')).toBe('max');
          expect(s.history('n'.repeat(128), 'é'.repeat(512)).map((v) => v.deleted)).toEqual([false, true]);
          // None of the refused writes left anything behind.
          expect(s.stats().versions).toBe(4);
          expect(s.listNamespaces()).toEqual(['n'.repeat(128), 'ns']);
          expect(s.listKeys('ns')).toEqual(['present']);
        },
      );
    });

    it('enforces the value limits: oversized or too deep values store nothing', async () => {
      let deep: unknown = 0;
      for (let i = 0; i < 9; i++) deep = [deep];
      await scenario(
        { maxValueBytes: 64, maxDepth: 8 },
        async (s) => {
          await s.put('lim', 'ok', 'x'.repeat(60));
          expect(await rejectionCode(s.put('lim', 'big', 'x'.repeat(63)))).toBe(ErrorCodes.VALUE_TOO_LARGE);
          expect(await rejectionCode(s.put('lim', 'deep', deep))).toBe(ErrorCodes.VALUE_TOO_DEEP);
          expect(await rejectionCode(s.putMany([{ namespace: 'lim', key: 'm', value: 'x'.repeat(100) }]))).toBe(
            ErrorCodes.VALUE_TOO_LARGE,
          );
        },
        (s) => {
          expect(s.listKeys('lim')).toEqual(['ok']);
          expect(s.stats().versions).toBe(1);
        },
      );
    });

    it('verify accepts values stored under limits larger than the defaults', async () => {
      let deep: JsonValue = 'leaf';
      for (let i = 0; i < 600; i++) deep = [deep];
      await scenario(
        { maxDepth: 1000, maxValueBytes: 32 * 1024 * 1024 },
        async (s) => {
          await s.put('lim', 'deep', deep);
        },
        async (s) => {
          expect(s.get('lim', 'deep')).toEqual(deep);
          expect(await s.verify()).toMatchObject({ ok: true, problems: [], versions: 1, values: 1 });
        },
      );
    });

    it('history lists every version oldest first; limit keeps the newest; getVersionById finds any', async () => {
      const ids: string[] = [];
      await scenario(
        {},
        async (s) => {
          for (let i = 0; i < 5; i++) ids.push((await s.put('h', 'k', { i })).versionId);
          ids.push((await s.delete('h', 'k')).versionId);
          ids.push((await s.put('h', 'k', { i: 'back' })).versionId);
        },
        (s) => {
          const all = expectChain(s.history('h', 'k'));
          expect(all.map((v) => v.versionId)).toEqual(ids);
          expect(all.map((v) => v.value)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }, { i: 4 }, null, { i: 'back' }]);
          expect(s.history('h', 'k', { limit: 2 }).map((v) => v.versionId)).toEqual(ids.slice(-2));
          expect(s.history('h', 'k', { limit: 100 })).toHaveLength(7);
          expect(s.history('h', 'k', { limit: 0 })).toEqual([]);
          expect(codeOf(() => s.history('h', 'k', { limit: -1 }))).toBe(ErrorCodes.INVALID_ARGUMENT);
          expect(codeOf(() => s.history('h', 'k', { limit: 1.5 }))).toBe(ErrorCodes.INVALID_ARGUMENT);
          for (const [i, id] of ids.entries()) expect(s.getVersionById('h', 'k', id)).toEqual(all[i]);
          expect(codeOf(() => s.getVersionById('h', 'k', '0'.repeat(64)))).toBe(ErrorCodes.VERSION_NOT_FOUND);
          expect(codeOf(() => s.getVersionById('h', 'nope', ids[0]!))).toBe(ErrorCodes.KEY_NOT_FOUND);
        },
      );
    });

    it('getAt returns the last version with timestamp <= t: exact times, gaps, deleted spans', async () => {
      const clock = manualClock(10_000);
      const v: Version[] = [];
      await scenario(
        { now: clock.now },
        async (s) => {
          v.push(await s.put('t', 'k', 'one')); // 10000
          clock.t = 20_000;
          v.push(await s.put('t', 'k', 'two')); // 20000
          v.push(await s.put('t', 'k', 'three')); // 20000, logical 1
          clock.t = 30_000;
          v.push(await s.delete('t', 'k')); // 30000
          clock.t = 40_000;
          v.push(await s.put('t', 'k', 'four')); // 40000
        },
        (s) => {
          const at = (t: number) => s.getAt('t', 'k', t).value;
          expect(codeOf(() => at(9_999))).toBe(ErrorCodes.KEY_NOT_FOUND);
          expect(codeOf(() => at(-Infinity))).toBe(ErrorCodes.KEY_NOT_FOUND);
          expect(at(10_000)).toBe('one');
          expect(s.getAt('t', 'k', 10_000)).toEqual(v[0]);
          expect(at(19_999)).toBe('one');
          // Two versions in the same millisecond: the later one is current.
          expect(s.getAt('t', 'k', 20_000)).toEqual(v[2]);
          expect(at(29_999)).toBe('three');
          // Inside the deleted span: not found, and the error says when.
          expect(codeOf(() => at(30_000))).toBe(ErrorCodes.KEY_NOT_FOUND);
          expect(codeOf(() => at(39_999))).toBe(ErrorCodes.KEY_NOT_FOUND);
          try {
            s.getAt('t', 'k', 35_000);
            expect.unreachable('inside a deleted span');
          } catch (e) {
            expect(e).toMatchObject({ code: ErrorCodes.KEY_NOT_FOUND, details: { namespace: 't', key: 'k', at: new Date(35_000).toISOString() } });
          }
          expect(at(40_000)).toBe('four');
          expect(at(Number.MAX_SAFE_INTEGER)).toBe('four');
          expect(at(Infinity)).toBe('four');
          expect(codeOf(() => at(Number.NaN))).toBe(ErrorCodes.INVALID_ARGUMENT);
          expect(s.history('t', 'k').map((x) => x.timestamp)).toEqual(
            [10_000, 20_000, 20_000, 30_000, 40_000].map((t) => new Date(t).toISOString()),
          );
        },
      );
    });

    it('getAt of a version\'s hlc returns exactly that version, even within one millisecond', async () => {
      const clock = manualClock(50_000);
      const v: Version[] = [];
      await scenario(
        { now: clock.now },
        async (s) => {
          for (const value of ['a', 'b', 'c']) v.push(await s.put('t', 'k', value));
          v.push(await s.delete('t', 'k'));
          v.push(...(await s.putMany([{ namespace: 't', key: 'k', value: 'd' }])));
        },
        (s) => {
          expect(new Set(v.map((x) => x.timestamp)).size).toBe(1);
          for (const x of v) {
            if (x.deleted) expect(codeOf(() => s.getAt('t', 'k', parseHlc(x.hlc)))).toBe(ErrorCodes.KEY_NOT_FOUND);
            else expect(s.getAt('t', 'k', parseHlc(x.hlc))).toEqual(x);
          }
          expect(s.getAt('t', 'k', 50_000)).toEqual(v.at(-1));
          expect(codeOf(() => s.getAt('t', 'k', { wall: 49_999, logical: 999_999 }))).toBe(ErrorCodes.KEY_NOT_FOUND);
        },
      );
    });

    it('getAt agrees with a linear scan of the history (property)', async () => {
      const step = fc.record({
        dt: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 }), fc.integer({ min: -30, max: -1 })),
        del: fc.boolean(),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), fc.array(fc.integer({ min: -5, max: 1300 }), { maxLength: 20 }), async (steps, probes) => {
          const clock = manualClock(1000);
          const h = await factory({ now: clock.now });
          try {
            const s = h.storage;
            const model: Array<{ wall: number; deleted: boolean; value: number }> = [];
            let wall = 0;
            for (const [i, st] of steps.entries()) {
              clock.t += st.dt;
              const live = model.length > 0 && !model[model.length - 1]!.deleted;
              if (st.del && live) await s.delete('p', 'k');
              else if (st.del) {
                expect(await rejectionCode(s.delete('p', 'k'))).toBe(ErrorCodes.KEY_NOT_FOUND);
                continue;
              } else await s.put('p', 'k', i);
              wall = Math.max(wall, clock.t);
              model.push({ wall, deleted: st.del, value: i });
            }
            const check = (t: number) => {
              let found = -1;
              for (let j = 0; j < model.length; j++) if (model[j]!.wall <= t) found = j;
              if (model.length === 0) return;
              const m = found < 0 ? undefined : model[found]!;
              if (m === undefined || m.deleted) expect(codeOf(() => s.getAt('p', 'k', t))).toBe(ErrorCodes.KEY_NOT_FOUND);
              else expect(s.getAt('p', 'k', t).value).toBe(m.value);
            };
            for (const m of model) for (const t of [m.wall - 1, m.wall, m.wall + 1]) check(t);
            for (const p of probes) check(1000 + p);
          } finally {
            await h.dispose();
          }
        }),
        { seed: fcSeed(`${name}: getAt vs linear scan`), numRuns: 25 },
      );
    });

    it('delete writes a tombstone: history kept, not found, not contained; re-put chains on it', async () => {
      const got: Record<string, Version> = {};
      await scenario(
        {},
        async (s) => {
          got.v1 = await s.put('d', 'k', { n: 1 });
          got.tomb = await s.delete('d', 'k');
          expect(await rejectionCode(s.delete('d', 'k'))).toBe(ErrorCodes.KEY_NOT_FOUND);
          expect(await rejectionCode(s.delete('d', 'never'))).toBe(ErrorCodes.KEY_NOT_FOUND);
          expect(await rejectionCode(s.delete('_bad', 'k'))).toBe(ErrorCodes.INVALID_NAMESPACE);
          await s.put('d', 'gone', 1);
          await s.delete('d', 'gone');
        },
        async (s) => {
          const tomb = got.tomb!;
          expect(tomb).toMatchObject({ namespace: 'd', key: 'k', value: null, valueId: null, deleted: true, previousVersion: got.v1!.versionId });
          expect(tomb.versionId).toBe(await sha256Hex(versionIdText(tomb)));
          expect(codeOf(() => s.get('d', 'k'))).toBe(ErrorCodes.KEY_NOT_FOUND);
          expect(codeOf(() => s.getVersion('d', 'gone'))).toBe(ErrorCodes.KEY_NOT_FOUND);
          expect(s.contains('d', 'k')).toBe(false);
          expect(s.history('d', 'k')).toEqual([got.v1, tomb]);
          expect(s.listKeys('d')).toEqual([]);
          expect(s.listNamespaces()).toEqual([]);
          expect(s.stats()).toMatchObject({ keys: 0, versions: 4, namespaces: 0 });
        },
      );
      // Re-put after delete.
      await scenario(
        {},
        async (s) => {
          const v1 = await s.put('d', 'k', 'a');
          const tomb = await s.delete('d', 'k');
          const v2 = await s.put('d', 'k', 'a');
          expect(v2.previousVersion).toBe(tomb.versionId);
          expect(v2.valueId).toBe(v1.valueId);
        },
        (s) => {
          expect(s.get('d', 'k')).toBe('a');
          expect(s.contains('d', 'k')).toBe(true);
          expect(expectChain(s.history('d', 'k')).map((v) => v.deleted)).toEqual([false, true, false]);
          // A small value counts once per live version holding it.
          expect(s.stats()).toMatchObject({ keys: 1, versions: 3, distinctValues: 2 });
        },
      );
    });

    it('each key is a hash chain: previousVersion links, versionIds recompute', async () => {
      await scenario(
        {},
        async (s) => {
          for (let i = 0; i < 4; i++) {
            await s.put('c', 'x', i);
            await s.put('c', 'y', i % 2);
          }
          await s.delete('c', 'y');
        },
        async (s) => {
          for (const k of ['x', 'y']) {
            const h = expectChain(s.history('c', k));
            for (const v of h) expect(v.versionId).toBe(await sha256Hex(versionIdText(v)));
          }
          expect(s.history('c', 'y')).toHaveLength(5);
          const r = await s.verify();
          // Small values are inline: no value record.
          expect(r).toEqual({ ok: true, keys: 2, versions: 9, values: 0, problems: [] });
        },
      );
    });

    it('identical large values are stored once; small ones are inline in each version', async () => {
      await scenario(
        {},
        async (s) => {
          await s.put('dd', 'a', { big: 'x'.repeat(1000), list: [1, 2, 3] });
          const bytes = s.stats().valueBytes;
          await s.put('dd', 'b', { list: [1, 2, 3], big: 'x'.repeat(1000) });
          await s.put('dd', 'a', { list: [1, 2, 3], big: 'x'.repeat(1000) });
          await s.put('other', 'c', { list: [1, 2, 3], big: 'x'.repeat(1000) });
          expect(s.stats().valueBytes).toBe(bytes);
          await s.put('dd', 'd', 'small');
          await s.put('dd', 'e', 'small');
          await s.delete('dd', 'e');
        },
        async (s) => {
          // The large value once, the small one once per version holding it (the tombstone holds none).
          expect(s.stats()).toMatchObject({ versions: 7, distinctValues: 3, keys: 4 });
          expect(s.getVersion('dd', 'a').valueId).toBe(s.getVersion('other', 'c').valueId);
          // One value record: the large value's.
          expect(await s.verify()).toMatchObject({ ok: true, values: 1 });
        },
      );
    });

    it('ifVersion compare-and-set: match writes, mismatch conflicts and stores nothing, null is create-only', async () => {
      await scenario(
        {},
        async (s) => {
          const created = await s.put('cas', 'k', 1, { ifVersion: null });
          expect(created.previousVersion).toBeNull();
          const v2 = await s.put('cas', 'k', 2, { ifVersion: created.versionId });
          expect(v2.previousVersion).toBe(created.versionId);

          const before = s.stats();
          try {
            await s.put('cas', 'k', 3, { ifVersion: created.versionId });
            expect.unreachable('stale ifVersion must conflict');
          } catch (e) {
            expect(e).toMatchObject({
              code: ErrorCodes.VERSION_CONFLICT,
              details: { namespace: 'cas', key: 'k', expected: created.versionId, actual: v2.versionId },
            });
          }
          expect(await rejectionCode(s.put('cas', 'k', 3, { ifVersion: null }))).toBe(ErrorCodes.VERSION_CONFLICT);
          expect(await rejectionCode(s.put('cas', 'k', 3, { ifVersion: 'f'.repeat(64) }))).toBe(ErrorCodes.VERSION_CONFLICT);
          expect(await rejectionCode(s.put('cas', 'new', 3, { ifVersion: v2.versionId }))).toBe(ErrorCodes.VERSION_CONFLICT);
          expect(await rejectionCode(s.delete('cas', 'k', { ifVersion: created.versionId }))).toBe(ErrorCodes.VERSION_CONFLICT);
          expect(s.stats()).toEqual(before);
          expect(s.get('cas', 'k')).toBe(2);
          expect(s.contains('cas', 'new')).toBe(false);

          // Two writers racing on the same head in one tick: exactly one wins.
          const race = await Promise.allSettled([
            s.put('cas', 'k', 'A', { ifVersion: v2.versionId }),
            s.put('cas', 'k', 'B', { ifVersion: v2.versionId }),
          ]);
          expect(race.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
          expect((race[1] as PromiseRejectedResult).reason.code).toBe(ErrorCodes.VERSION_CONFLICT);

          const head = s.getVersion('cas', 'k');
          const tomb = await s.delete('cas', 'k', { ifVersion: head.versionId });
          await s.put('cas', 'k', 'again', { ifVersion: tomb.versionId });
        },
        (s) => {
          expect(s.history('cas', 'k').map((v) => v.value)).toEqual([1, 2, 'A', null, 'again']);
          expect(s.contains('cas', 'new')).toBe(false);
        },
      );
    });

    it('ifVersion null (create-only) succeeds on a deleted key, which does not exist any more', async () => {
      await scenario(
        {},
        async (s) => {
          await s.put('cas', 'gone', 1);
          await s.delete('cas', 'gone');
          const again = await s.put('cas', 'gone', 2, { ifVersion: null });
          expect(again.previousVersion).not.toBeNull();
          expect(await rejectionCode(s.put('cas', 'gone', 3, { ifVersion: null }))).toBe(ErrorCodes.VERSION_CONFLICT);
          // A write queued behind a delete sees the key as absent too.
          await Promise.all([s.delete('cas', 'gone'), s.put('cas', 'gone', 4, { ifVersion: null })]);
        },
        (s) => expect(s.history('cas', 'gone').map((v) => v.value)).toEqual([1, null, 2, null, 4]),
      );
    });

    it('failed writes to new keys leave no trace: no key, no namespace', async () => {
      await scenario(
        {},
        async (s) => {
          expect(await rejectionCode(s.put('ghost', 'a', () => 1))).toBe(ErrorCodes.INVALID_VALUE);
          expect(await rejectionCode(s.put('ghost', 'b', 1, { ifVersion: 'f'.repeat(64) }))).toBe(ErrorCodes.VERSION_CONFLICT);
          expect(
            await rejectionCode(s.putMany([{ namespace: 'ghost', key: 'c', value: 1 }, { namespace: 'ghost', key: 'd', value: undefined }])),
          ).toBe(ErrorCodes.INVALID_VALUE);
        },
        (s) => {
          expect(s.listNamespaces()).not.toContain('ghost');
          expect(s.listKeys('ghost')).toEqual([]);
          expect(s.stats().versions).toBe(0);
        },
      );
    });

    it('putMany writes a batch in input order, all or none', async () => {
      let batch: Version[] = [];
      await scenario(
        {},
        async (s) => {
          expect(await s.putMany([])).toEqual([]);
          const base = await s.put('pm', 'existing', 0);
          batch = await s.putMany([
            { namespace: 'pm', key: 'a', value: { same: true } },
            { namespace: 'pm', key: 'b', value: { same: true } },
            { namespace: 'pm', key: 'a', value: 'a2' },
            { namespace: 'pm2', key: 'c', value: { same: true } },
            { namespace: 'pm', key: 'existing', value: 1, ifVersion: base.versionId },
            { namespace: 'pm', key: 'fresh', value: 2, ifVersion: null },
          ]);
          expect(batch.map((v) => [v.namespace, v.key, v.value])).toEqual([
            ['pm', 'a', { same: true }],
            ['pm', 'b', { same: true }],
            ['pm', 'a', 'a2'],
            ['pm2', 'c', { same: true }],
            ['pm', 'existing', 1],
            ['pm', 'fresh', 2],
          ]);
          expect(batch[2]!.previousVersion).toBe(batch[0]!.versionId);
          expect(batch[4]!.previousVersion).toBe(base.versionId);

          const before = s.stats();
          // A bad item anywhere: nothing of the batch is stored.
          for (const [bad, code] of [
            [{ namespace: 'pm', key: 'z', value: undefined }, ErrorCodes.INVALID_VALUE],
            [{ namespace: '_x', key: 'z', value: 1 }, ErrorCodes.INVALID_NAMESPACE],
            [{ namespace: 'pm', key: '', value: 1 }, ErrorCodes.INVALID_KEY],
          ] as const) {
            const items = [{ namespace: 'pm', key: 'x1', value: 1 }, bad, { namespace: 'pm', key: 'x2', value: 2 }];
            expect(await rejectionCode(s.putMany(items))).toBe(code);
          }
          expect(await rejectionCode(s.putMany(null as never))).toBe(ErrorCodes.INVALID_ARGUMENT);
          expect(await rejectionCode(s.putMany([null as never]))).toBe(ErrorCodes.INVALID_ARGUMENT);
          // A CAS conflict in one item: nothing stored.
          expect(
            await rejectionCode(
              s.putMany([
                { namespace: 'pm', key: 'x1', value: 1 },
                { namespace: 'pm', key: 'existing', value: 'stale', ifVersion: base.versionId },
              ]),
            ),
          ).toBe(ErrorCodes.VERSION_CONFLICT);
          expect(
            await rejectionCode(
              s.putMany([
                { namespace: 'pm', key: 'x1', value: 1 },
                { namespace: 'pm', key: 'fresh', value: 'dup', ifVersion: null },
              ]),
            ),
          ).toBe(ErrorCodes.VERSION_CONFLICT);
          expect(s.stats()).toEqual(before);
          expect(s.contains('pm', 'x1')).toBe(false);
          expect(s.contains('pm', 'x2')).toBe(false);
        },
        async (s) => {
          expect(s.get('pm', 'a')).toBe('a2');
          expect(s.get('pm', 'b')).toEqual({ same: true });
          expect(s.get('pm2', 'c')).toEqual({ same: true });
          expect(s.history('pm', 'a')).toEqual([batch[0], batch[2]]);
          expect(s.getVersion('pm', 'b')).toEqual(batch[1]);
          // Small values: each of the 7 versions holds its own.
          expect(s.stats()).toMatchObject({ versions: 7, keys: 5, distinctValues: 7, seq: 7 });
          expect(await s.verify()).toMatchObject({ ok: true, versions: 7, values: 0 });
        },
      );
    });

    it('listNamespaces and listKeys are sorted and skip deleted keys', async () => {
      await scenario(
        {},
        async (s) => {
          for (const [ns, k] of [
            ['zeta', 'b'],
            ['alpha', 'c'],
            ['alpha', 'a'],
            ['alpha', 'B'],
            ['Mid', 'x'],
            ['gone', 'only'],
            ['alpha', 'deleted'],
          ] as const) {
            await s.put(ns, k, `${ns}/${k}`);
          }
          await s.delete('gone', 'only');
          await s.delete('alpha', 'deleted');
        },
        (s) => {
          expect(s.listNamespaces()).toEqual(['Mid', 'alpha', 'zeta']);
          expect(s.listKeys('alpha')).toEqual(['B', 'a', 'c']);
          expect(s.listKeys('gone')).toEqual([]);
          expect(s.listKeys('unknown')).toEqual([]);
          expect(codeOf(() => s.listKeys('_x'))).toBe(ErrorCodes.INVALID_NAMESPACE);
        },
      );
    });

    it('stats counts keys, versions, namespaces, values stored and committed changes', async () => {
      await scenario(
        {},
        async (s) => {
          expect(s.stats()).toMatchObject({ keys: 0, versions: 0, namespaces: 0, distinctValues: 0, valueBytes: 0, seq: 0 });
          expect(s.seq).toBe(0);
          await s.put('s1', 'a', 1);
          await s.put('s1', 'a', 2);
          await s.put('s1', 'b', 1);
          await s.put('s2', 'c', 'three');
          await s.delete('s1', 'b');
          await s.putMany([
            { namespace: 's3', key: 'd', value: 1 },
            { namespace: 's3', key: 'e', value: 4 },
          ]);
        },
        async (s) => {
          const st = s.stats();
          // Small values: one per live version (7 less the tombstone).
          expect(st).toMatchObject({ keys: 4, versions: 7, namespaces: 3, distinctValues: 6, seq: 7 });
          expect(s.seq).toBe(7);
          expect(st.valueBytes).toBeGreaterThan(0);
          expect(st.diskBytes).toBeGreaterThanOrEqual(0);
          expect(await s.verify()).toEqual({ ok: true, keys: 5, versions: 7, values: 0, problems: [] });
        },
      );
    });

    it('1,000 concurrent puts to one key give 1,000 versions in an intact chain', async () => {
      const clock = manualClock();
      await scenario(
        { now: clock.now },
        async (s) => {
          const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => s.put('hot', 'k', { i })));
          expect(results.map((v) => (v.value as { i: number }).i)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
          expect(new Set(results.map((v) => v.hlc)).size).toBe(1000);
          expect(s.seq).toBe(1000);
        },
        async (s) => {
          const h = expectChain(s.history('hot', 'k'));
          expect(h).toHaveLength(1000);
          expect(h.map((v) => (v.value as { i: number }).i)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
          expect(s.get('hot', 'k')).toEqual({ i: 999 });
          expect(await s.verify()).toMatchObject({ ok: true, versions: 1000, values: 0 });
        },
      );
    });

    it('the HLC stays monotonic when the wall clock steps back', async () => {
      const clock = manualClock(50_000);
      await scenario(
        { now: clock.now },
        async (s, h) => {
          await s.put('clk', 'k', 'at 50s');
          clock.t = 10_000; // the clock steps back 40 s
          await s.put('clk', 'k', 'stepped back');
          await s.put('clk', 'other', 'stepped back');
          clock.t = 30_000;
          await s.put('clk', 'k', 'still behind');
          await s.delete('clk', 'other');
          clock.t = 60_000;
          await s.put('clk', 'k', 'ahead again');
          if (h.reopen === null) return;
          // A reopened store continues after the newest stamp it loaded.
          clock.t = 1_000;
          const s2 = await h.reopen();
          const v = await s2.put('clk', 'k', 'after reopen');
          expect(v.timestamp).toBe(new Date(60_000).toISOString());
          expect(v.hlc).toBe(`${String(60_000).padStart(15, '0')}-000001`);
          return s2;
        },
        (s) => {
          const h = expectChain(s.history('clk', 'k'));
          expect(h[0]!.timestamp).toBe(new Date(50_000).toISOString());
          expect(h[1]!.timestamp).toBe(new Date(50_000).toISOString());
          expect(h[h.length - 1]!.hlc.startsWith(String(60_000).padStart(15, '0'))).toBe(true);
          const other = expectChain(s.history('clk', 'other'));
          expect(other.map((v) => v.timestamp)).toEqual([50_000, 50_000].map((t) => new Date(t).toISOString()));
          const all = [...h, ...other].map((v) => v.hlc);
          expect(new Set(all).size).toBe(all.length);
          // Versions written while the clock was behind are dated at the HLC's wall time.
          expect(s.getAt('clk', 'k', 50_000).value).toBe('still behind');
          expect(codeOf(() => s.getAt('clk', 'k', 10_000))).toBe(ErrorCodes.KEY_NOT_FOUND);
        },
      );
    });

    it('__proto__, constructor and prototype are plain data, never prototype pollution', async () => {
      const special = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];
      const payload = JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"prototype":1}') as JsonValue;
      await scenario(
        {},
        async (s) => {
          expect(codeOf(() => s.get('constructor', '__proto__'))).toBe(ErrorCodes.KEY_NOT_FOUND);
          expect(codeOf(() => s.get('prototype', 'toString'))).toBe(ErrorCodes.KEY_NOT_FOUND);
          expect(s.contains('constructor', 'constructor')).toBe(false);
          expect(s.listKeys('constructor')).toEqual([]);
          expect(await rejectionCode(s.put('__proto__', 'k', 1))).toBe(ErrorCodes.INVALID_NAMESPACE);
          for (const ns of ['constructor', 'prototype', 'plain']) {
            for (const k of special) await s.put(ns, k, { ns, k });
          }
          await s.put('plain', 'payload', payload);
          await s.putMany([{ namespace: 'plain', key: '__proto__', value: payload }]);
          await s.delete('prototype', '__proto__');
        },
        async (s) => {
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
          expect(Object.prototype).not.toHaveProperty('polluted');
          expect(s.listNamespaces()).toEqual(['constructor', 'plain', 'prototype']);
          expect(s.listKeys('constructor')).toEqual([...special].sort());
          expect(s.listKeys('prototype')).toEqual(special.filter((k) => k !== '__proto__').sort());
          for (const k of special) expect(s.get('constructor', k)).toEqual({ ns: 'constructor', k });
          expect(codeOf(() => s.get('prototype', '__proto__'))).toBe(ErrorCodes.KEY_NOT_FOUND);
          expect(s.history('prototype', '__proto__')).toHaveLength(2);
          for (const k of ['payload', '__proto__']) {
            const v = s.get('plain', k) as Record<string, unknown>;
            expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
            expect(Object.keys(v)).toEqual(['__proto__', 'constructor', 'prototype']);
            expect(Object.getOwnPropertyDescriptor(v, '__proto__')?.value).toEqual({ polluted: true });
            expect(v.polluted).toBeUndefined();
          }
          expect(s.history('plain', '__proto__').map((v) => v.valueId)[1]).toBe(s.getVersion('plain', 'payload').valueId);
          expect((await s.verify()).ok).toBe(true);
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        },
      );
    });

    it('close waits for queued writes; afterwards every call fails with CLOSED', async () => {
      const h = await factory();
      try {
        const s = h.storage;
        const pending = [s.put('q', 'a', 1), s.put('q', 'b', 2), s.delete('q', 'a').catch((e: unknown) => e)];
        await s.close();
        const [a, b] = await Promise.all(pending.slice(0, 2) as Array<Promise<Version>>);
        expect(a!.value).toBe(1);
        expect(b!.value).toBe(2);
        expect(await pending[2]).toMatchObject({ deleted: true });
        await s.close(); // idempotent
        expect(await rejectionCode(s.put('q', 'c', 3))).toBe(ErrorCodes.CLOSED);
        expect(await rejectionCode(s.putMany([{ namespace: 'q', key: 'c', value: 3 }]))).toBe(ErrorCodes.CLOSED);
        expect(await rejectionCode(s.delete('q', 'b'))).toBe(ErrorCodes.CLOSED);
        expect(await rejectionCode(s.compact())).toBe(ErrorCodes.CLOSED);
        expect(await rejectionCode(s.verify())).toBe(ErrorCodes.CLOSED);
        for (const call of [
          () => s.get('q', 'b'),
          () => s.getVersion('q', 'b'),
          () => s.history('q', 'b'),
          () => s.getAt('q', 'b', Date.now()),
          () => s.getVersionById('q', 'b', b!.versionId),
          () => s.contains('q', 'b'),
          () => s.listKeys('q'),
          () => s.listNamespaces(),
          () => s.stats(),
        ]) {
          expect(codeOf(call)).toBe(ErrorCodes.CLOSED);
        }
        if (h.reopen !== null) {
          const s2 = await h.reopen();
          expect(s2.listKeys('q')).toEqual(['b']);
          expect(s2.history('q', 'a').map((v) => v.deleted)).toEqual([false, true]);
        }
      } finally {
        await h.dispose();
      }
    });

    it('a store compacted while empty opens again and takes writes', async () => {
      const h = await factory();
      try {
        let s = h.storage;
        await s.compact();
        if (h.reopen !== null) s = await h.reopen();
        expect(s.stats()).toMatchObject({ versions: 0, keys: 0 });
        const v = await s.put('empty', 'k', { after: 'empty compact' });
        await s.put('empty', 'k2', 2);
        expect(s.getVersion('empty', 'k')).toEqual(v);
        if (h.reopen !== null) s = await h.reopen();
        expect(s.history('empty', 'k')).toEqual([v]);
        expect(s.listKeys('empty')).toEqual(['k', 'k2']);
        expect(await s.verify()).toMatchObject({ ok: true, versions: 2 });
      } finally {
        await h.dispose();
      }
    });

    it('compact keeps every version readable', async () => {
      const clock = manualClock(1_000);
      let before: unknown;
      const keys = [
        ['cp', 'a'],
        ['cp', 'b'],
        ['cp', 'c'],
      ] as const;
      await scenario(
        { now: clock.now },
        async (s) => {
          await s.compact(); // on an empty store
          for (let i = 0; i < 6; i++) {
            clock.t += 10;
            await s.put('cp', i % 2 === 0 ? 'a' : 'b', { i, shared: 'same' });
          }
          await s.put('cp', 'c', { i: 0, shared: 'same' });
          await s.delete('cp', 'b');
          before = dump(s, keys);
          await s.compact();
          expect(dump(s, keys)).toEqual(before);
          clock.t += 10;
          await s.put('cp', 'b', 'after compact');
          await s.put('cp', 'a', { i: 0, shared: 'same' });
        },
        async (s) => {
          const after = dump(s, keys) as Array<[string, string, Version[] | null]>;
          const pre = before as Array<[string, string, Version[] | null]>;
          expect(after[0]![2]!.slice(0, -1)).toEqual(pre[0]![2]);
          expect(after[1]![2]!.slice(0, -1)).toEqual(pre[1]![2]);
          expect(after[2]).toEqual(pre[2]);
          expect(s.get('cp', 'b')).toBe('after compact');
          expect(s.getAt('cp', 'a', 1_030).value).toEqual({ i: 2, shared: 'same' });
          expect(s.getAt('cp', 'b', 1_059).value).toEqual({ i: 3, shared: 'same' });
          expect(codeOf(() => s.getAt('cp', 'b', 1_060))).toBe(ErrorCodes.KEY_NOT_FOUND);
          // Small values: one per live version (10 less the tombstone).
          expect(s.stats()).toMatchObject({ versions: 10, distinctValues: 9 });
          expect(await s.verify()).toMatchObject({ ok: true, versions: 10 });
        },
      );
    });
  });
}
