// diff: structural differences between two versions of a key, addressed by version
// id, history index or time; paths are JSON Pointers.
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { fcSeed } from '@koru/vitest-preset/helpers';
import { diffValues, KoruDelta, type DiffChange, type JsonValue, type Version } from '@koru/delta';
import { expectKoruError, manualClock } from './support.js';

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0, 0);

let db: KoruDelta;
beforeEach(async () => {
  db = await KoruDelta.start();
});
afterEach(async () => {
  await db.close();
});

describe('diff', () => {
  test('by default: the latest change', async () => {
    await db.put('d', 'k', { a: 1, b: 2 });
    const v2 = await db.put('d', 'k', { a: 1, b: 3, c: 4 });
    const v3 = await db.put('d', 'k', { b: 3, c: 4 });
    const d = await db.diff('d', 'k');
    expect(d.namespace).toBe('d');
    expect(d.key).toBe('k');
    expect(d.from).toEqual(v2);
    expect(d.to).toEqual(v3);
    expect(d.changes).toEqual([{ kind: 'removed', path: '/a', before: 1 }]);
  });

  test('the first version diffs against nothing: everything added', async () => {
    const v = await db.put('d', 'first', { x: [1] });
    const d = await db.diff('d', 'first');
    expect(d.from).toBeNull();
    expect(d.to).toEqual(v);
    expect(d.changes).toEqual([{ kind: 'added', path: '', after: { x: [1] } }]);
  });

  test('added, removed and changed paths are JSON Pointers, escaping "/" and "~"', async () => {
    await db.put('d', 'p', { 'a/b': 1, 'm~n': { x: 1 }, list: [1, 2, 3], same: 's', t: 1, gone: null });
    await db.put('d', 'p', { 'a/b': 2, 'm~n': { x: 1, y: 'new' }, list: [1, 5], same: 's', t: '1', '': 'empty key' });
    const d = await db.diff('d', 'p');
    expect(d.changes).toEqual([
      { kind: 'added', path: '/', after: 'empty key' },
      { kind: 'changed', path: '/a~1b', before: 1, after: 2 },
      { kind: 'removed', path: '/gone', before: null },
      { kind: 'changed', path: '/list/1', before: 2, after: 5 },
      { kind: 'removed', path: '/list/2', before: 3 },
      { kind: 'added', path: '/m~0n/y', after: 'new' },
      { kind: 'changed', path: '/t', before: 1, after: '1' },
    ]);
  });

  test('a change of type is one changed entry; equal values give no changes', async () => {
    await db.put('d', 't', { a: [1, 2] });
    await db.put('d', 't', { a: { 0: 1 } });
    expect((await db.diff('d', 't')).changes).toEqual([{ kind: 'changed', path: '/a', before: [1, 2], after: { 0: 1 } }]);
    await db.put('d', 't', { a: { 0: 1 } });
    expect((await db.diff('d', 't')).changes).toEqual([]);
    await db.put('d', 't', 'scalar');
    expect((await db.diff('d', 't')).changes).toEqual([{ kind: 'changed', path: '', before: { a: { 0: 1 } }, after: 'scalar' }]);
  });

  test('from/to by version id, by history index (negative from the end) and by time', async () => {
    const clock = manualClock(T0);
    const t = await KoruDelta.start({ now: clock.now });
    try {
      const v: Version[] = [];
      for (let i = 0; i < 4; i++) {
        clock.set(T0 + i * 1000);
        v.push(await t.put('d', 'k', { n: i }));
      }
      const change = (a: number, b: number): DiffChange[] => [{ kind: 'changed', path: '/n', before: a, after: b }];
      const byId = await t.diff('d', 'k', { from: v[0]!.versionId, to: v[2]!.versionId });
      expect([byId.from, byId.to, byId.changes]).toEqual([v[0], v[2], change(0, 2)]);
      const byIndex = await t.diff('d', 'k', { from: 1, to: -1 });
      expect([byIndex.from, byIndex.to, byIndex.changes]).toEqual([v[1], v[3], change(1, 3)]);
      const negative = await t.diff('d', 'k', { from: -4, to: -2 });
      expect([negative.from, negative.to]).toEqual([v[0], v[2]]);
      const byDate = await t.diff('d', 'k', { from: new Date(T0 + 1500), to: new Date(T0 + 2999) });
      expect([byDate.from, byDate.to, byDate.changes]).toEqual([v[1], v[2], change(1, 2)]);
      const byIso = await t.diff('d', 'k', { from: new Date(T0).toISOString() });
      expect([byIso.from, byIso.to]).toEqual([v[0], v[3]]);
      const onlyTo = await t.diff('d', 'k', { to: 2 });
      expect([onlyTo.from, onlyTo.to]).toEqual([v[1], v[2]]);
      const backwards = await t.diff('d', 'k', { from: 3, to: 0 });
      expect(backwards.changes).toEqual(change(3, 0));
      const same = await t.diff('d', 'k', { from: 2, to: 2 });
      expect(same.changes).toEqual([]);
    } finally {
      await t.close();
    }
  });

  test('against a tombstone: deleting removes the whole value, recreating adds it', async () => {
    await db.put('d', 'gone', { a: 1 });
    const tomb = await db.delete('d', 'gone');
    const d = await db.diff('d', 'gone');
    expect(d.to).toEqual(tomb);
    expect(d.changes).toEqual([{ kind: 'removed', path: '', before: { a: 1 } }]);
    await db.put('d', 'gone', { b: 2 });
    const back = await db.diff('d', 'gone');
    expect(back.from).toEqual(tomb);
    expect(back.changes).toEqual([{ kind: 'added', path: '', after: { b: 2 } }]);
    const across = await db.diff('d', 'gone', { from: 0, to: 2 });
    expect(across.changes).toEqual([
      { kind: 'removed', path: '/a', before: 1 },
      { kind: 'added', path: '/b', after: 2 },
    ]);
  });

  test('bad references', async () => {
    await db.put('d', 'k', 1);
    await db.put('d', 'k', 2);
    await db.put('other', 'k', 3);
    const foreign = (await db.getVersion('other', 'k')).versionId;
    await expectKoruError(() => db.diff('d', 'k', { from: 2 }), 'INVALID_ARGUMENT', /index 2/);
    await expectKoruError(() => db.diff('d', 'k', { to: -3 }), 'INVALID_ARGUMENT', /index -3/);
    await expectKoruError(() => db.diff('d', 'k', { from: 0.5 }), 'INVALID_ARGUMENT');
    await expectKoruError(() => db.diff('d', 'k', { from: foreign }), 'VERSION_NOT_FOUND', new RegExp(foreign));
    await expectKoruError(() => db.diff('d', 'k', { from: new Date(0) }), 'INVALID_ARGUMENT', /1970-01-01T00:00:00\.000Z/);
    await expectKoruError(() => db.diff('d', 'k', { from: 'not a ref' }), 'INVALID_ARGUMENT', /not a valid time/);
    await expectKoruError(() => db.diff('d', 'k', { to: {} as never }), 'INVALID_ARGUMENT');
    await expectKoruError(() => db.diff('d', 'missing'), 'KEY_NOT_FOUND', /d\/missing/);
  });

  test('property: applying the changes to the old value gives the new one', () => {
    const json = fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<JsonValue>;
    fc.assert(
      fc.property(json, json, (a, b) => {
        const canon = (v: JsonValue) => JSON.parse(JSON.stringify(v)) as JsonValue; // -0 → 0
        const [x, y] = [canon(a), canon(b)];
        const changes = diffValues(x, y);
        expect(applyChanges(x, changes)).toEqual(y);
        if (JSON.stringify(x) === JSON.stringify(y)) expect(changes).toEqual([]);
        for (const c of changes) expect(c.path === '' || c.path.startsWith('/')).toBe(true);
      }),
      { seed: fcSeed('diff-apply') },
    );
  });
});

const REMOVED = Symbol('removed');

/** Applies diff changes (JSON Pointers) to a copy of `base`. */
function applyChanges(base: JsonValue, changes: readonly DiffChange[]): unknown {
  let root = structuredClone(base) as unknown;
  for (const c of changes) {
    if (c.path === '') {
      root = c.kind === 'removed' ? undefined : structuredClone(c.after);
      continue;
    }
    const segs = c.path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    let parent = root as Record<string, unknown> | unknown[];
    for (const s of segs.slice(0, -1)) parent = (parent as Record<string, unknown>)[s] as typeof parent;
    const last = segs[segs.length - 1]!;
    if (c.kind === 'removed') {
      // Array elements are marked and dropped at the end, so later indexes stay valid.
      if (Array.isArray(parent)) parent[Number(last)] = REMOVED;
      else delete parent[last];
    } else if (Array.isArray(parent)) parent[Number(last)] = structuredClone(c.after);
    else Object.defineProperty(parent, last, { value: structuredClone(c.after), enumerable: true, writable: true, configurable: true });
  }
  const sweep = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.filter((x) => x !== REMOVED).map(sweep);
    if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) (v as Record<string, unknown>)[k] = sweep((v as Record<string, unknown>)[k]);
    return v;
  };
  return sweep(root);
}
