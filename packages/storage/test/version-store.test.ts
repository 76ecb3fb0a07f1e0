// The version store over the log-structured engine, against a plain in-memory model:
// random puts, deletes and replicated versions (older clocks, clock ties between nodes),
// with flushes, merges and reopens mixed in; values stored once; damaged records.
import { ErrorCodes, formatHlc, HLC_MAX_WALL, type JsonValue } from '@koru/engine';
import { fcSeed, prng } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LsmTree } from '../src/lsm/lsm-tree.js';
import { MemoryDirectory } from '../src/lsm/memory-directory.js';
import { KIND_DELETE, KIND_PUT, keyBytes } from '../src/lsm/types.js';
import type { Version } from '../src/types.js';
import { decodeVersionKey, decodeVersionRecord, encodeVersionRecord, keyPrefix, valueKey, versionKey } from '../src/version-records.js';
import { VersionStore, type NewVersion } from '../src/version-store.js';
import { isoOfWall } from '../src/version-store-reads.js';
import { encodeHead, headKeyOf } from '../src/head-records.js';
import { codeOf, openTinyVersionTree } from './lsm-helpers.js';

const enc = new TextEncoder();

const openTree = openTinyVersionTree;


const hexId = (rand: () => number): string => Array.from({ length: 32 }, () => Math.floor(rand() * 256).toString(16).padStart(2, '0')).join('');

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length - b.length;
}

/** A committed version as the model keeps it. */
interface ModelVersion extends NewVersion {
  readonly seq: number;
  readonly current: boolean;
}

/** Clock order: (wall, logical), then node (UTF-8 bytes), then id — the order that decides "current". */
function clockCompare(a: NewVersion, b: NewVersion): number {
  return a.wall - b.wall || a.logical - b.logical || compareBytes(enc.encode(a.node), enc.encode(b.node)) || (a.versionId < b.versionId ? -1 : a.versionId > b.versionId ? 1 : 0);
}

/** The Version the store must give for a model version. */
function expectedVersion(m: NewVersion): Version {
  return {
    namespace: m.namespace,
    key: m.key,
    value: m.valueText === null ? null : (JSON.parse(m.valueText) as JsonValue),
    valueId: m.valueId,
    versionId: m.versionId,
    previousVersion: m.previousVersion,
    timestamp: new Date(m.wall).toISOString(),
    hlc: formatHlc({ wall: m.wall, logical: m.logical }),
    node: m.node,
    deleted: m.deleted,
  };
}

/** Everything committed, and the questions answered from it directly. */
class Model {
  readonly all: ModelVersion[] = [];
  keyVersions(ns: string, key: string): ModelVersion[] {
    return this.all.filter((v) => v.namespace === ns && v.key === key).sort(clockCompare);
  }
  newest(vs: readonly ModelVersion[]): ModelVersion | undefined {
    return vs.reduce<ModelVersion | undefined>((best, v) => (best === undefined || clockCompare(v, best) > 0 ? v : best), undefined);
  }
  keys(): Array<[string, string]> {
    const seen = new Map<string, [string, string]>();
    for (const v of this.all) seen.set(`${v.namespace}\u0000${v.key}`, [v.namespace, v.key]);
    return [...seen.values()];
  }
}

// Values: small ones go inline (inlineMaxBytes 64 below), large ones to value records.
const TEXTS = ['1', '"a"', '{"n":1}', '[1,2,3]', '"é😀"', JSON.stringify({ big: 'x'.repeat(200) }), JSON.stringify({ big: 'ü'.repeat(40) }), JSON.stringify(['y'.repeat(100)])];
const VALUE_IDS = TEXTS.map((_, i) => hexId(prng(1000 + i)));
const NODES = ['n1', 'n2', 'z', 'a\u0000b', 'é'];
const NAMESPACES = ['ns', 'users', 'ns2'];
const KEYS = ['k', 'k1', 'key-é', 'ab'];

type Op =
  | { readonly t: 'put' | 'del' | 'replicate'; readonly ns: number; readonly key: number; readonly text: number; readonly node: number; readonly back: number; readonly batch: boolean }
  | { readonly t: 'flush' | 'compact' | 'reopen' | 'crash' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 20, arbitrary: fc.record({ t: fc.constantFrom('put', 'put', 'del', 'replicate', 'replicate'), ns: fc.nat(NAMESPACES.length - 1), key: fc.nat(KEYS.length - 1), text: fc.nat(TEXTS.length - 1), node: fc.nat(NODES.length - 1), back: fc.nat(30), batch: fc.boolean() }) },
  { weight: 2, arbitrary: fc.constantFrom({ t: 'flush' as const }, { t: 'compact' as const }, { t: 'reopen' as const }, { t: 'crash' as const }) },
);

function checkAll(store: VersionStore, model: Model, rand: () => number): void {
  expect(store.seq).toBe(model.all.length);
  for (const [ns, key] of model.keys()) {
    const vs = model.keyVersions(ns, key);
    const head = vs[vs.length - 1]!;
    expect(store.head(ns, key)).toEqual(expectedVersion(head));
    expect(Object.isFrozen(store.head(ns, key))).toBe(true);
    expect(store.history(ns, key)).toEqual(vs.map(expectedVersion));
    const limit = Math.floor(rand() * (vs.length + 2));
    expect(store.history(ns, key, limit)).toEqual(vs.slice(Math.max(0, vs.length - limit)).map(expectedVersion));
    // Time travel: at each version's own stamp (ties go to the greatest node), between, before, and by ms.
    for (const v of vs) {
      for (const [w, l] of [[v.wall, v.logical], [v.wall, undefined], [v.wall - 1, undefined], [v.wall, v.logical + 1]] as const) {
        const want = model.newest(vs.filter((x) => x.wall < w || (x.wall === w && x.logical <= (l ?? Infinity))));
        expect(store.at(ns, key, w, l)).toEqual(want === undefined ? undefined : expectedVersion(want));
      }
      expect(store.byId(ns, key, v.versionId)).toEqual(expectedVersion(v));
      expect(store.has(ns, key, v.wall, v.logical, v.node, v.versionId)).toBe(true);
      expect(store.has(ns, key, v.wall, v.logical, v.node, hexId(rand))).toBe(false);
      expect(store.has(ns, key, v.wall + 1, v.logical, v.node, v.versionId)).toBe(false);
    }
    expect(store.at(ns, key, Infinity)).toEqual(expectedVersion(head));
    expect(store.at(ns, key, -1)).toBeUndefined();
    for (let s = 0; s <= model.all.length; s += 1 + Math.floor(rand() * 5)) {
      const want = model.newest(vs.filter((x) => x.seq <= s));
      expect(store.atSeq(ns, key, s)).toEqual(want === undefined ? undefined : expectedVersion(want));
    }
    expect(store.byId(ns, key, '00'.repeat(32))).toBeUndefined();
  }
  expect(store.head('ns', 'never')).toBeUndefined();
  expect(store.history('ns', 'never')).toEqual([]);
  for (const m of model.all) {
    const c = store.changeAt(m.seq)!;
    const vs = model.keyVersions(m.namespace, m.key);
    const before = model.newest(vs.filter((x) => x.seq < m.seq));
    expect(c.version).toEqual(expectedVersion(m));
    expect(c.before).toEqual(before === undefined ? undefined : expectedVersion(before));
    expect(c.superseded).toBe(!m.current);
  }
  expect(store.changeAt(0)).toBeUndefined();
  expect(store.changeAt(model.all.length + 1)).toBeUndefined();
  const namespaces = [...new Set(model.all.map((v) => v.namespace))].sort();
  expect(store.namespaces()).toEqual(namespaces);
  for (const ns of NAMESPACES) {
    const keys = model
      .keys()
      .filter(([n]) => n === ns)
      .map(([, k]) => k)
      .sort((a, b) => compareBytes(enc.encode(a), enc.encode(b)));
    expect([...store.heads(ns)]).toEqual(keys.map((k) => expectedVersion(model.newest(model.keyVersions(ns, k))!)));
  }
  const from = Math.floor(rand() * (model.all.length + 2));
  const to = from + Math.floor(rand() * 10) - 2;
  expect([...store.committed(from, to)]).toEqual(model.all.filter((v) => v.seq >= from && v.seq <= to).map(expectedVersion));
  expect([...store.committed(0, Infinity)]).toEqual(model.all.map(expectedVersion));
}

describe('VersionStore against a model', () => {
  it('answers head, history, at, atSeq, byId, has, changeAt, heads, namespaces and committed as the model does, across flushes, merges and reopens', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 200, size: 'max' }), fc.integer(), async (ops, seed) => {
        const rand = prng(seed);
        let dir = new MemoryDirectory();
        let tree = openTree(dir);
        let store = new VersionStore(tree, { inlineMaxBytes: 64, cacheBytes: rand() < 0.3 ? 0 : 1 << 20 });
        const model = new Model();
        let clock = 1_000_000;
        let pending: NewVersion[] = [];
        const commitPending = (): void => {
          if (pending.length === 0) return;
          const currents = store.commit(pending);
          // The model's rule: current when later in clock order than all before it (batch included).
          pending.forEach((v, i) => {
            const newest = model.newest(model.all.filter((x) => x.namespace === v.namespace && x.key === v.key));
            const current = newest === undefined || clockCompare(v, newest) > 0;
            expect(currents[i]).toBe(current);
            model.all.push({ ...v, seq: model.all.length + 1, current });
          });
          pending = [];
        };
        for (const o of ops) {
          if (!('ns' in o)) {
            const op = o;
            commitPending();
            if (op.t === 'flush') await tree.flush();
            else if (op.t === 'compact') await tree.compact();
            else if (op.t === 'crash') {
              // A power loss: every commit was synced ('always'), so all of them survive,
              // the newest only in the logs (replayed at open). The old tree is dropped.
              dir = dir.crash(rand);
              tree = openTree(dir);
              store = new VersionStore(tree, { inlineMaxBytes: 64, cacheBytes: 1 << 20 });
            } else {
              await tree.close();
              tree = openTree(dir);
              store = new VersionStore(tree, { inlineMaxBytes: 64, cacheBytes: 1 << 20 });
            }
            continue;
          }
          const op = o;
          const ns = NAMESPACES[op.ns]!;
          const key = KEYS[op.key]!;
          const known = [...model.all, ...pending].filter((v) => v.namespace === ns && v.key === key);
          const head = model.newest(known as ModelVersion[]);
          let wall: number;
          let logical: number;
          let node: string;
          if (op.t === 'replicate' && known.length > 0) {
            // An older clock from another node; sometimes exactly an existing version's clock.
            const other = known[Math.floor(rand() * known.length)]!;
            node = NODES[op.node]!;
            if (rand() < 0.4) {
              wall = other.wall;
              logical = other.logical;
            } else {
              wall = Math.max(0, head!.wall - op.back);
              logical = Math.floor(rand() * 3);
            }
            if (known.some((v) => v.wall === wall && v.logical === logical && v.node === node)) node = `${node}-r${Math.floor(rand() * 1000)}`;
          } else {
            clock += 1 + Math.floor(rand() * 3);
            wall = clock;
            logical = Math.floor(rand() * 2);
            node = 'n1';
          }
          const deleted = op.t === 'del';
          pending.push({
            namespace: ns,
            key,
            versionId: hexId(rand),
            previousVersion: head === undefined ? null : head.versionId,
            valueId: deleted ? null : VALUE_IDS[op.text]!,
            valueText: deleted ? null : TEXTS[op.text]!,
            wall,
            logical,
            node,
            deleted,
          });
          if (!op.batch || pending.length > 5) commitPending();
        }
        commitPending();
        checkAll(store, model, rand);
        await tree.close();
        tree = openTree(dir);
        store = new VersionStore(tree, { inlineMaxBytes: 64 });
        checkAll(store, model, rand);
        await tree.close();
      }),
      { seed: fcSeed('version-store: model'), numRuns: 60 },
    );
  }, 120_000);

  it('refuses malformed items and versions already stored, writing nothing', async () => {
    const dir = new MemoryDirectory();
    const tree = openTree(dir);
    const store = new VersionStore(tree);
    const v: NewVersion = { namespace: 'ns', key: 'k', versionId: 'ab'.repeat(32), previousVersion: null, valueId: 'cd'.repeat(32), valueText: '1', wall: 5, logical: 0, node: 'n', deleted: false };
    expect(store.commit([v])).toEqual([true]);
    const bad: NewVersion[][] = [
      [v], // already stored (the head)
      [{ ...v, versionId: 'ef'.repeat(32) }, { ...v, versionId: 'ef'.repeat(32) }], // twice in a batch
      // twice in a batch, superseded in between (the second copy is not current)
      [{ ...v, versionId: 'ef'.repeat(32), wall: 6 }, { ...v, versionId: 'ee'.repeat(32), wall: 7 }, { ...v, versionId: 'ef'.repeat(32), wall: 6 }],
      // twice in a batch, both older than the head
      [{ ...v, versionId: 'ef'.repeat(32), wall: 4 }, { ...v, versionId: 'ef'.repeat(32), wall: 4 }],
      [{ ...v, deleted: true }], // a tombstone with a value
      [{ ...v, valueText: null }], // a live version without text
      [{ ...v, valueId: null, valueText: null }],
      [{ ...v, versionId: 'AB'.repeat(32) }],
      [{ ...v, wall: -1 }],
      [{ ...v, namespace: '' }],
    ];
    for (const b of bad) expect(codeOf(() => store.commit(b))).toBe(ErrorCodes.INVALID_ARGUMENT);
    // An older version already stored, not the head.
    store.commit([{ ...v, versionId: '12'.repeat(32), wall: 9 }]);
    expect(codeOf(() => store.commit([v]))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(store.seq).toBe(2);
    expect(store.history('ns', 'k')).toHaveLength(2);
    expect(codeOf(() => store.history('ns', 'k', -1))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => store.at('ns', 'k', Number.NaN))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => store.at('ns', 'k', 5, 1e7))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(codeOf(() => new VersionStore(tree, { inlineMaxBytes: -1 }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    await tree.close();
  });
});

describe('values stored once', () => {
  /** Bytes of the directory after storing `text` under 50 keys (or a different text each when `distinct`). */
  async function bytesFor(text: (i: number) => string, id: (i: number) => string): Promise<number> {
    const dir = new MemoryDirectory();
    const tree = openTree(dir, { memtableBytes: 1 << 20 });
    const store = new VersionStore(tree);
    for (let i = 0; i < 50; i++) {
      store.commit([{ namespace: 'ns', key: `key-${i}`, versionId: hexId(prng(i)), previousVersion: null, valueId: id(i), valueText: text(i), wall: 100 + i, logical: 0, node: 'n1', deleted: false }]);
    }
    await tree.flush();
    // A by-reference value reads back (through its value record).
    expect(store.head('ns', 'key-49')!.value).toEqual(JSON.parse(text(49)));
    expect(tree.stats().levels[0]!.files).toBe(1);
    const bytes = tree.diskBytes();
    await tree.close();
    return bytes;
  }

  it('a large value (in its value record) costs its bytes once for 50 keys', async () => {
    const text = JSON.stringify({ blob: 'v'.repeat(20_000) });
    const same = await bytesFor(() => text, () => 'aa'.repeat(32));
    const distinct = await bytesFor((i) => JSON.stringify({ blob: `${i}`.padEnd(20_000, 'v') }), (i) => hexId(prng(500 + i)));
    expect(same).toBeLessThan(3 * text.length);
    expect(distinct).toBeGreaterThan(40 * text.length);
  });

  it('a small value is inline in every version holding it, with no value record: any version may go alone', async () => {
    const tree = openTree(new MemoryDirectory());
    const store = new VersionStore(tree);
    const text = JSON.stringify({ s: 'w'.repeat(900) });
    const valueId = 'bb'.repeat(32);
    const keys: string[] = [];
    for (let i = 0; i < 5; i++) {
      const v = { namespace: 'ns', key: `key-${i}`, versionId: hexId(prng(i)), previousVersion: null, valueId, valueText: text, wall: 100 + i, logical: 0, node: 'n1', deleted: false };
      store.commit([v]);
      keys.push(versionKey(v.namespace, v.key, v.wall, v.logical, v.node, v.versionId));
    }
    await tree.flush();
    expect(tree.get(valueKey(valueId))).toBeUndefined();
    for (const k of keys) expect(decodeVersionRecord(tree.get(k)!)).toMatchObject({ valueId, valueText: text });
    // Dropping the first version (as a retention merge may) leaves every other readable.
    tree.delete(keys[0]!);
    expect(store.history('ns', 'key-3')[0]!.value).toEqual(JSON.parse(text));
    // The counters count each small value once per version holding it.
    expect(store.counters.values).toBe(5);
    expect(store.counters.textLength).toBe(5 * text.length);
    await tree.close();
  });

  it('read back by reference after the first versions (and the value record) were merged into a deeper level', async () => {
    const dir = new MemoryDirectory();
    let tree = openTree(dir);
    let store = new VersionStore(tree, { inlineMaxBytes: 64 });
    const small = '{"small":true}';
    const large = JSON.stringify({ large: 'L'.repeat(500) });
    const base = { previousVersion: null, logical: 0, node: 'n1', deleted: false } as const;
    store.commit([
      { ...base, namespace: 'a', key: 'first', versionId: '01'.repeat(32), valueId: '11'.repeat(32), valueText: small, wall: 10 },
      { ...base, namespace: 'a', key: 'big', versionId: '02'.repeat(32), valueId: '22'.repeat(32), valueText: large, wall: 11 },
    ]);
    await tree.compact();
    expect(tree.stats().levels[0]!.files).toBe(0);
    expect(tree.stats().levels.slice(1).some((l) => l.files > 0)).toBe(true);
    store.commit([
      { ...base, namespace: 'b', key: 'ref-small', versionId: '03'.repeat(32), valueId: '11'.repeat(32), valueText: small, wall: 12 },
      { ...base, namespace: 'b', key: 'ref-large', versionId: '04'.repeat(32), valueId: '22'.repeat(32), valueText: large, wall: 13 },
    ]);
    // The second version of a large value holds its id only: its record is short; a small value is inline again.
    expect(tree.get(versionKey('b', 'ref-large', 13, 0, 'n1', '04'.repeat(32)))!.length).toBeLessThan(40);
    expect(decodeVersionRecord(tree.get(versionKey('b', 'ref-small', 12, 0, 'n1', '03'.repeat(32)))!).valueText).toBe(small);
    expect(store.head('b', 'ref-small')!.value).toEqual({ small: true });
    expect(store.head('b', 'ref-large')!.value).toEqual(JSON.parse(large));
    for (const step of ['flush', 'compact', 'reopen'] as const) {
      if (step === 'flush') await tree.flush();
      else if (step === 'compact') await tree.compact();
      else {
        await tree.close();
        tree = openTree(dir);
        store = new VersionStore(tree, { inlineMaxBytes: 64, cacheBytes: 0 });
      }
      expect(store.head('b', 'ref-small')!.value).toEqual({ small: true });
      expect(store.history('b', 'ref-large')[0]!.value).toEqual(JSON.parse(large));
      expect(store.head('a', 'first')!.value).toEqual({ small: true });
      expect(Object.isFrozen(store.head('b', 'ref-large')!.value)).toBe(true);
    }
    await tree.close();
  });
});

describe('damaged records', () => {
  const base: NewVersion = { namespace: 'ns', key: 'k', versionId: '0a'.repeat(32), previousVersion: null, valueId: '0b'.repeat(32), valueText: '{"v":1}', wall: 50, logical: 0, node: 'n1', deleted: false };
  const vkey = versionKey('ns', 'k', 50, 0, 'n1', '0a'.repeat(32));

  /** Every read that reaches the version throws CORRUPTION (none gives an answer). */
  function expectCorrupt(store: VersionStore): void {
    expect(codeOf(() => store.head('ns', 'k'))).toBe(ErrorCodes.CORRUPTION);
    expect(codeOf(() => store.history('ns', 'k'))).toBe(ErrorCodes.CORRUPTION);
    expect(codeOf(() => store.at('ns', 'k', 60))).toBe(ErrorCodes.CORRUPTION);
    expect(codeOf(() => store.byId('ns', 'k', '0a'.repeat(32)))).toBe(ErrorCodes.CORRUPTION);
    expect(codeOf(() => store.changeAt(1))).toBe(ErrorCodes.CORRUPTION);
    expect(codeOf(() => [...store.committed(1, 1)])).toBe(ErrorCodes.CORRUPTION);
    expect(codeOf(() => [...store.heads('ns')])).toBe(ErrorCodes.CORRUPTION);
  }

  /** Stores `bad` as the version's record, and as the copy its head record holds. */
  const forge = (t: LsmTree, bad: Uint8Array): void => {
    t.put(vkey, bad);
    t.put(headKeyOf(keyPrefix('ns', 'k')), encodeHead(vkey, bad));
  };
  const damages: Array<[string, (tree: LsmTree) => void]> = [
    ['a malformed version record', (t) => forge(t, Uint8Array.of(0x02, 0x01, 0xff))],
    ['unknown flags', (t) => forge(t, Uint8Array.of(0x40, ...encodeVersionRecord({ seq: 1, deleted: false, previousVersion: null, valueId: '0b'.repeat(32), valueText: '1', currentAtCommit: true }).subarray(1)))],
    ['text that is not JSON', (t) => forge(t, encodeVersionRecord({ seq: 1, deleted: false, previousVersion: null, valueId: '0b'.repeat(32), valueText: '{"v":', currentAtCommit: true }))],
    ['a wrong seq', (t) => forge(t, encodeVersionRecord({ seq: 7, deleted: false, previousVersion: null, valueId: '0b'.repeat(32), valueText: '1', currentAtCommit: true }).slice())],
  ];

  for (const [what, damage] of damages) {
    it(`${what} is CORRUPTION on every read, in the memtable and in a segment`, async () => {
      const dir = new MemoryDirectory();
      const tree = openTree(dir);
      const store = new VersionStore(tree);
      store.commit([base]);
      damage(tree);
      if (what === 'a wrong seq') {
        // The record itself is well formed: only the change feed sees it does not fit.
        expect(codeOf(() => store.changeAt(1))).toBe(ErrorCodes.CORRUPTION);
        expect(codeOf(() => [...store.committed(1, 1)])).toBe(ErrorCodes.CORRUPTION);
      } else expectCorrupt(store);
      await tree.flush();
      if (what !== 'a wrong seq') expectCorrupt(new VersionStore(tree, { cacheBytes: 0 }));
      await tree.close();
    });
  }

  it('a missing or malformed value record, or a value pointer (no longer a value record), is CORRUPTION', async () => {
    const cases: Array<(t: LsmTree) => void> = [
      (t) => t.delete(valueKey('0b'.repeat(32))),
      (t) => t.put(valueKey('0b'.repeat(32)), Uint8Array.of(1, 0x56)),
      (t) => t.put(valueKey('0b'.repeat(32)), Uint8Array.of(7, 0x31)),
      // The earlier layout's pointer to a version holding the text inline: no value record now.
      (t) => t.put(valueKey('0b'.repeat(32)), Uint8Array.of(1, ...keyBytes(versionKey('ns', 'k', 50, 0, 'n1', '0a'.repeat(32))))),
    ];
    for (const damage of cases) {
      const tree = openTree(new MemoryDirectory());
      // Inline limit 0: every value is by reference, stored once in its value record.
      const store = new VersionStore(tree, { cacheBytes: 0, inlineMaxBytes: 0 });
      store.commit([base]);
      // A second version sharing the value by reference.
      store.commit([{ ...base, key: 'k2', versionId: '0d'.repeat(32), wall: 51 }]);
      damage(tree);
      expect(codeOf(() => store.head('ns', 'k2'))).toBe(ErrorCodes.CORRUPTION);
      expect(codeOf(() => store.changeAt(2))).toBe(ErrorCodes.CORRUPTION);
      await tree.close();
    }
  });

  it('a change whose record is missing is CORRUPTION, never skipped', async () => {
    const tree = openTree(new MemoryDirectory());
    const store = new VersionStore(tree);
    store.commit([base, { ...base, key: 'k2', versionId: '0e'.repeat(32) }, { ...base, key: 'k3', versionId: '0f'.repeat(32) }]);
    tree.write([{ key: 'S' + '\u0000'.repeat(7) + '\u0002', kind: KIND_DELETE, value: new Uint8Array(0) }]);
    expect(codeOf(() => [...store.committed(1, 3)])).toBe(ErrorCodes.CORRUPTION);
    expect(codeOf(() => store.changeAt(2))).toBe(ErrorCodes.CORRUPTION);
    expect(store.changeAt(3)!.version.key).toBe('k3');
    tree.write([{ key: 'S' + '\u0000'.repeat(7) + '\u0002', kind: KIND_PUT, value: enc.encode('Vbad') }]);
    expect(codeOf(() => store.changeAt(2))).toBe(ErrorCodes.CORRUPTION);
    await tree.close();
  });
});

describe('a key whose history meets a file boundary', () => {
  it('stays in one file of a level (a merge takes the older part of a key along with its newer one), and is read whole', async () => {
    const dir = new MemoryDirectory();
    const tree = openTree(dir, { picker: { l0Trigger: 1 } });
    const store = new VersionStore(tree);
    const v = (key: string, wall: number, id: string, value: number): NewVersion => ({
      namespace: 'ns',
      key,
      versionId: id,
      previousVersion: null,
      valueId: hexId(prng(value)),
      valueText: JSON.stringify({ value, pad: 'p'.repeat(300) }),
      wall,
      logical: 0,
      node: 'n1',
      deleted: false,
    });
    const rand = prng(7);
    let wall = 1;
    for (let r = 0; r < 3; r++) store.commit(Array.from({ length: 60 }, (_, k) => v(`k${String(k).padStart(3, '0')}`, wall++, hexId(rand), wall)));
    await tree.compact();
    // A level-1 file that starts with a key's newest version: that key's next version
    // sorts before it (newest first), so a level-0 file holding only that one (its value
    // stored already: no value record) ends before the file and the merge leaves it out.
    const starts = tree.segments().filter((s) => s.level === 1 && s.firstKey.startsWith('Vns'));
    expect(starts.length).toBeGreaterThan(0);
    const key = decodeVersionKey(starts[0]!.firstKey).key;
    const before = store.history('ns', key);
    const next = { ...v(key, wall++, hexId(rand), 0), valueId: before[0]!.valueId, valueText: JSON.stringify(before[0]!.value) };
    store.commit([next]);
    await tree.flush();
    for (let i = 0; i < 100 && tree.stats().levels[0]!.files > 0; i++) await new Promise((r) => setTimeout(r, 2));
    expect(tree.stats().levels[0]!.files).toBe(0);
    const prefix = keyPrefix('ns', key);
    const level1 = tree.segments().filter((s) => s.level === 1);
    // The merge took in the level-1 file holding the key's older versions: one file holds it all.
    expect(level1.filter((s) => s.firstKey < prefix + '\u0100' && s.lastKey >= prefix)).toHaveLength(1);
    expect(store.history('ns', key).map((x) => x.versionId)).toEqual([...before.map((x) => x.versionId), next.versionId]);
    expect(store.head('ns', key)!.versionId).toBe(next.versionId);
    expect(new VersionStore(tree, { cacheBytes: 0 }).head('ns', key)!.versionId).toBe(next.versionId);
    expect(store.at('ns', key, next.wall - 1)!.versionId).toBe(before[2]!.versionId);
    expect(store.changeAt(store.seq)!.before!.versionId).toBe(before[2]!.versionId);
    expect(store.byId('ns', key, before[0]!.versionId)!.versionId).toBe(before[0]!.versionId);
    await tree.close();
  });
});

describe('isoOfWall', () => {
  it('is toISOString of the wall time, across days, years and the clock range', () => {
    const wallArb = fc.oneof(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.integer({ min: 0, max: HLC_MAX_WALL }), fc.constantFrom(0, 999, 86_399_999, 86_400_000, 253_402_300_799_999, 253_402_300_800_000, HLC_MAX_WALL));
    fc.assert(
      fc.property(fc.array(wallArb, { minLength: 1, maxLength: 5 }), (walls) => {
        for (const w of walls) expect(isoOfWall(w)).toBe(new Date(w).toISOString());
      }),
      { seed: fcSeed('version-store: iso'), numRuns: 3000 },
    );
  });
});

describe('iterators held across writes', () => {
  it('heads() and committed() go on after commits, flushes and merges between their steps', async () => {
    const dir = new MemoryDirectory();
    const tree = openTree(dir);
    const store = new VersionStore(tree);
    const rand = prng(11);
    const v = (key: string, wall: number): NewVersion => ({ namespace: 'ns', key, versionId: hexId(rand), previousVersion: null, valueId: hexId(rand), valueText: JSON.stringify({ key, wall, pad: 'q'.repeat(100) }), wall, logical: 0, node: 'n1', deleted: false });
    let wall = 1;
    for (let k = 0; k < 40; k++) store.commit([v(`k${String(k).padStart(2, '0')}`, wall++)]);
    const keys: string[] = [];
    for (const h of store.heads('ns')) {
      keys.push(h.key);
      // A newer version of a key already passed, and of the next one: the iterator shows
      // each key once, in order, and a key it reaches after its write at its new head.
      store.commit([v(h.key, wall++)]);
      if (keys.length % 10 === 0) await tree.flush();
    }
    expect(keys).toEqual(Array.from({ length: 40 }, (_, k) => `k${String(k).padStart(2, '0')}`));
    const seqs: number[] = [];
    const last = store.seq;
    for (const c of store.committed(1, last)) {
      seqs.push(seqs.length + 1);
      expect(c).toEqual(store.changeAt(seqs.length)!.version);
      store.commit([v(c.key, wall++)]);
      if (seqs.length % 20 === 0) await tree.compact();
    }
    expect(seqs).toHaveLength(last);
    await tree.close();
  });
});

describe('inlineMaxBytes', () => {
  it('puts a value of up to that many UTF-8 bytes inline (and no value record), a longer one in its value record', async () => {
    const tree = openTree(new MemoryDirectory());
    const store = new VersionStore(tree, { inlineMaxBytes: 40 });
    // Texts of 39–41 UTF-8 bytes from 1-, 2-, 3- and 4-byte characters.
    const texts = ['"' + 'a'.repeat(37) + '"', '"' + 'é'.repeat(19) + '"', '"' + 'a' + 'é'.repeat(19) + '"', '"' + '€'.repeat(12) + 'a' + '"', '"' + '€'.repeat(13) + '"', '"' + '😀'.repeat(9) + 'ab' + '"', '"' + '😀'.repeat(9) + 'a' + '"'];
    for (const [i, text] of texts.entries()) {
      const valueId = hexId(prng(900 + i));
      store.commit([{ namespace: 'ns', key: `k${i}`, versionId: hexId(prng(950 + i)), previousVersion: null, valueId, valueText: text, wall: 1, logical: 0, node: 'n', deleted: false }]);
      const inline = enc.encode(text).length <= 40;
      expect([text, tree.get(valueKey(valueId))?.[0]]).toEqual([text, inline ? undefined : 0]);
      expect([text, decodeVersionRecord(tree.get(versionKey('ns', `k${i}`, 1, 0, 'n', hexId(prng(950 + i))))!).valueText]).toEqual([text, inline ? text : null]);
      expect(store.head('ns', `k${i}`)!.value).toBe(JSON.parse(text));
    }
    await tree.close();
  });
});
