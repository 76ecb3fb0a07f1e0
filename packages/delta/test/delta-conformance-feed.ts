// The conformance suite's change feed (subscribe, changes), export and import, and bad
// input (see ./delta-conformance.ts).
import { expect, it } from 'vitest';
import { KoruDelta, type ChangeEvent, type JsonValue, type LaggedEvent, type PrunedEvent, type Version } from '@koru/delta';
import { versionIdOf } from '@koru/engine';
import { expectKoruError } from './support.js';
import { waitFor, type ConformanceContext, type OpenDelta } from './delta-conformance-support.js';

type FeedEvent = ChangeEvent | LaggedEvent | PrunedEvent;

/** What a change event must say about a write, given the version it made and the value before it. */
function changeOf(seq: number, v: Version, previousValue: JsonValue, changeType: ChangeEvent['changeType']): ChangeEvent {
  return {
    type: 'change',
    seq,
    changeType,
    namespace: v.namespace,
    key: v.key,
    value: v.value,
    previousValue,
    versionId: v.versionId,
    previousVersion: v.previousVersion,
    timestamp: v.timestamp,
  };
}

/** A few writes of every change type; returns the change events they must produce, in order, seqs from `seq0 + 1`. */
async function writeSome(db: KoruDelta, seq0: number, f = 'f', g = 'g'): Promise<ChangeEvent[]> {
  const out: ChangeEvent[] = [];
  let seq = seq0;
  const a1 = await db.put(f, 'a', { n: 1 });
  out.push(changeOf(++seq, a1, null, 'insert'));
  const b1 = await db.put(f, 'b', 'b\u0000');
  out.push(changeOf(++seq, b1, null, 'insert'));
  const a2 = await db.put(f, 'a', { n: 2 });
  out.push(changeOf(++seq, a2, { n: 1 }, 'update'));
  const o1 = await db.put(g, 'a', [1]);
  out.push(changeOf(++seq, o1, null, 'insert'));
  const ad = await db.delete(f, 'a');
  out.push(changeOf(++seq, ad, { n: 2 }, 'delete'));
  const a3 = await db.put(f, 'a', { n: 3 });
  out.push(changeOf(++seq, a3, null, 'insert'));
  const many = await db.putMany([
    { namespace: f, key: 'c', value: 5 },
    { namespace: f, key: 'b', value: 6 },
  ]);
  out.push(changeOf(++seq, many[0]!, null, 'insert'));
  out.push(changeOf(++seq, many[1]!, 'b\u0000', 'update'));
  return out;
}

function subscribeAll(db: KoruDelta, spec: Parameters<KoruDelta['subscribe']>[0]): { events: FeedEvent[]; stop: () => void } {
  const events: FeedEvent[] = [];
  const sub = db.subscribe(spec, (e) => {
    events.push(e);
  });
  return { events, stop: () => sub.unsubscribe() };
}

/**
 * Writes a few versions to `db` (history, a tombstone, U+0000, a putMany), exports them,
 * and imports them into a fresh database of each kind in `targets` (made by `fresh`):
 * each must hold the same versions (ids, chains), answer the same reads and queries,
 * skip a second import, verify, and chain its next write on the imported head.
 */
export async function checkExportImport(
  db: KoruDelta,
  targets: ReadonlyArray<readonly [string, OpenDelta]>,
  fresh: (open: OpenDelta) => Promise<KoruDelta>,
): Promise<void> {
  await db.put('ex', 'a', { n: 1, s: 'x\u0000y' });
  await db.put('ex', 'a', { n: 2 });
  await db.put('ex', 'b', ['b']);
  await db.delete('ex', 'b');
  await db.put('ex', 'c', { n: 3, t: '😀' });
  await db.put('ex2', 'z', null);
  await db.putMany([
    { namespace: 'ex', key: 'd', value: { n: 4 } },
    { namespace: 'ex2', key: 'y', value: 'y' },
  ]);
  const exported: Version[] = [];
  for await (const v of db.exportVersions()) exported.push(v);
  expect(exported).toHaveLength(8);
  const ex2Only: Version[] = [];
  for await (const v of db.exportVersions({ namespace: 'ex2' })) ex2Only.push(v);
  expect(ex2Only).toEqual(exported.filter((v) => v.namespace === 'ex2'));
  const queries = [{}, { filter: { n: { $gte: 2 } } }, { filter: { s: { $contains: '\u0000' } } }];
  for (const [kind, open] of targets) {
    const target = await fresh(open);
    expect(await target.importVersions(exported), kind).toBe(exported.length);
    expect(await target.importVersions(exported), `${kind}, again`).toBe(0);
    const back: Version[] = [];
    for await (const v of target.exportVersions()) back.push(v);
    expect(back, kind).toEqual(exported);
    for (const ns of ['ex', 'ex2']) {
      expect(await target.listKeys(ns), kind).toEqual(await db.listKeys(ns));
      for (const key of ['a', 'b', 'c', 'd', 'y', 'z']) {
        const h = await db.history(ns, key).catch(() => undefined);
        if (h !== undefined) expect(await target.history(ns, key), `${kind} ${ns}/${key}`).toEqual(h);
      }
      for (const q of queries) {
        const [x, y] = [await target.query(ns, q), await db.query(ns, q)];
        expect({ rows: x.rows, total: x.total }, `${kind} ${JSON.stringify(q)}`).toEqual({ rows: y.rows, total: y.total });
      }
    }
    expect(await target.verify(), kind).toMatchObject({ ok: true, problems: [] });
    // The imported chain goes on: the next write chains on the imported head.
    const next = await target.put('ex', 'a', { n: 5 });
    expect(next.previousVersion).toBe((await db.getVersion('ex', 'a')).versionId);
  }
}

/** Registers the tests of the change feed, export and import, and bad input. */
export function feedConformance(ctx: ConformanceContext): void {
  it('subscribe: live changes in order, with change type and previous value', async () => {
    const db = ctx.db();
    const all = subscribeAll(db, {});
    const expected = await writeSome(db, db.seq);
    await waitFor(() => all.events.length >= expected.length, 'every change');
    expect(all.events).toEqual(expected);
    expect(db.seq).toBe(expected.at(-1)!.seq);
    all.stop();
  });

  it('subscribe since: a replay from 0 then live changes, no gap, no duplicate', async () => {
    const db = ctx.db();
    const first = await writeSome(db, 0);
    const replay = subscribeAll(db, { since: 0 });
    const mid = subscribeAll(db, { since: 3 });
    await waitFor(() => replay.events.length >= first.length, 'the replay');
    const more = await writeSome(db, first.at(-1)!.seq, 'f2', 'g2');
    await waitFor(() => replay.events.length >= first.length + more.length && mid.events.length >= first.length + more.length - 3, 'the live changes');
    await new Promise((r) => setTimeout(r, 30));
    expect(replay.events).toEqual([...first, ...more]);
    expect(mid.events).toEqual([...first, ...more].slice(3));
    const range = subscribeAll(db, { since: 2, until: 5 });
    await waitFor(() => range.events.length >= 3, 'the range');
    expect(range.events).toEqual(first.slice(2, 5));
    for (const s of [replay, mid, range]) s.stop();
  });

  it('subscribe: namespace, key, filter and types select changes', async () => {
    const db = ctx.db();
    const subs = {
      ns: subscribeAll(db, { namespace: 'g' }),
      key: subscribeAll(db, { namespace: 'f', key: 'a' }),
      filter: subscribeAll(db, { filter: { n: { $gte: 2 } } }),
      nul: subscribeAll(db, { filter: { $or: [{ $not: { n: { $exists: true } } }] }, namespace: 'f' }),
      types: subscribeAll(db, { types: ['delete', 'update'] }),
    };
    const events = await writeSome(db, db.seq);
    const expected = {
      ns: events.filter((e) => e.namespace === 'g'),
      key: events.filter((e) => e.namespace === 'f' && e.key === 'a'),
      filter: events.filter((e) => e.changeType !== 'delete' && typeof e.value === 'object' && e.value !== null && !Array.isArray(e.value) && (e.value as { n: number }).n >= 2),
      nul: events.filter((e) => e.namespace === 'f' && e.changeType !== 'delete' && !(typeof e.value === 'object' && e.value !== null && !Array.isArray(e.value) && 'n' in e.value)),
      types: events.filter((e) => e.changeType !== 'insert'),
    };
    for (const [name, sub] of Object.entries(subs)) await waitFor(() => sub.events.length >= expected[name as keyof typeof expected].length, `the ${name} subscription`);
    // Whatever else a subscription would wrongly receive would have arrived by now.
    await new Promise((r) => setTimeout(r, 50));
    for (const [name, sub] of Object.entries(subs)) expect(sub.events, name).toEqual(expected[name as keyof typeof expected]);
    for (const sub of Object.values(subs)) sub.stop();
    expect(() => db.subscribe({ key: 'a' }, () => undefined)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => db.subscribe({ types: ['upsert'] } as never, () => undefined)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('changes(): the feed as an async iterator', async () => {
    const db = ctx.db();
    const first = await writeSome(db, 0);
    const it = db.changes({ since: 0, namespace: 'f' });
    const got: FeedEvent[] = [];
    const expected = first.filter((e) => e.namespace === 'f');
    for (let i = 0; i < expected.length; i++) got.push((await it.next()).value as FeedEvent);
    expect(got).toEqual(expected);
    const pending = it.next();
    const live = await db.put('f', 'live', 'now');
    expect((await pending).value).toEqual(changeOf(db.seq, live, null, 'insert'));
    expect(await it.return!()).toEqual({ done: true, value: undefined });
  });

  it('exportVersions then importVersions: the same version ids and answers in a fresh database of each kind', async () => {
    await checkExportImport(ctx.db(), ctx.importInto, ctx.fresh);
    const exported: Version[] = [];
    for await (const v of ctx.db().exportVersions()) exported.push(v);
    const broken = { ...exported[1]!, value: { n: 999 } };
    const empty = await ctx.fresh();
    await expectKoruError(() => empty.importVersions([exported[0]!, broken]), 'INVALID_ARGUMENT');
    expect(await empty.listNamespaces()).toEqual([]);
  });

  it('importVersions refuses what does not fit, and skips what it holds', async () => {
    const src = ctx.db();
    const a1 = await src.put('im', 'a', 1);
    const a2 = await src.put('im', 'a', 2);
    const a3 = await src.put('im', 'a', 3);
    const b1 = await src.put('im', 'b', 'b');
    /** A version of `im/f` made by hand, stamped `wall`. */
    const madeAt = (wall: number): Version => {
      const hlc = `${String(wall).padStart(15, '0')}-000000`;
      const fields = { namespace: 'im', key: 'f', valueId: a1.valueId, previousVersion: null, hlc, node: a1.node, deleted: false };
      return { ...fields, value: 1, timestamp: new Date(wall).toISOString(), versionId: versionIdOf(fields) };
    };
    const refused: Array<[string, readonly Version[], string]> = [
      ['a gap in a key chain', [a1, a3], 'INVALID_ARGUMENT'],
      ['a successor before its predecessor', [a2, a1], 'INVALID_ARGUMENT'],
      ['deleted missing', [b1, { ...a1, deleted: undefined } as unknown as Version], 'INVALID_ARGUMENT'],
      ['a timestamp that is not the time of its hlc', [{ ...b1, timestamp: new Date(0).toISOString() }], 'INVALID_ARGUMENT'],
      ['a value that does not hash to its valueId', [b1, { ...a1, value: 5 }], 'INVALID_ARGUMENT'],
      ['a stamp an hour ahead', [b1, madeAt(Date.now() + 3_600_000)], 'CLOCK_SKEW'],
      ['not an array', {} as never, 'INVALID_ARGUMENT'],
    ];
    for (const [name, batch, code] of refused) {
      const db = await ctx.fresh();
      const e = await expectKoruError(() => db.importVersions(batch), code).catch((err: unknown) => {
        throw new Error(`${name}: ${String(err)}`);
      });
      expect(e.code, name).toBe(code);
      expect(await db.listNamespaces(), name).toEqual([]);
    }
    const db = await ctx.fresh();
    expect(await db.importVersions([a1, a1, b1, a2])).toBe(3);
    expect(await db.importVersions([a1, a2, a3])).toBe(1);
    expect(await db.history('im', 'a')).toEqual([a1, a2, a3]);
    const soon = madeAt(Date.now() + 60_000);
    expect(await db.importVersions([soon])).toBe(1);
    expect(await db.getVersion('im', 'f')).toEqual(soon);
  });

  it('bad input: the same error codes', async () => {
    const db = ctx.db();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cases: Array<[string, () => Promise<unknown>, string]> = [
      ['empty namespace', () => db.put('', 'k', 1), 'INVALID_NAMESPACE'],
      ['reserved namespace', () => db.put('_koru', 'k', 1), 'INVALID_NAMESPACE'],
      ['namespace with a slash', () => db.put('a/b', 'k', 1), 'INVALID_NAMESPACE'],
      ['namespace not a string', () => db.get(5 as never, 'k'), 'INVALID_NAMESPACE'],
      ['empty key', () => db.put('ns', '', 1), 'INVALID_KEY'],
      ['key not a string', () => db.get('ns', null as never), 'INVALID_KEY'],
      ['key of a lone surrogate', () => db.put('ns', '\uD800', 1), 'INVALID_KEY'],
      ['key too long', () => db.put('ns', 'k'.repeat(5000), 1), 'INVALID_KEY'],
      ['contains with a bad key', () => db.contains('ns', ''), 'INVALID_KEY'],
      ['listKeys with a bad namespace', () => db.listKeys(''), 'INVALID_NAMESPACE'],
      ['countKeys with a bad namespace', () => db.countKeys(''), 'INVALID_NAMESPACE'],
      ['undefined value', () => db.put('ns', 'k', undefined), 'INVALID_VALUE'],
      ['function value', () => db.put('ns', 'k', (() => 1) as never), 'INVALID_VALUE'],
      ['NaN value', () => db.put('ns', 'k', Number.NaN), 'INVALID_VALUE'],
      ['cyclic value', () => db.put('ns', 'k', cyclic), 'INVALID_VALUE'],
      ['Date value', () => db.put('ns', 'k', new Date() as never), 'INVALID_VALUE'],
      ['lone surrogate in a value', () => db.put('ns', 'k', '\uDC00'), 'INVALID_VALUE'],
      ['value over maxValueBytes', () => db.put('ns', 'k', 'x'.repeat(16 * 1024 * 1024)), 'VALUE_TOO_LARGE'],
      ['value too deep', () => db.put('ns', 'k', JSON.parse('['.repeat(600) + ']'.repeat(600)) as JsonValue), 'VALUE_TOO_DEEP'],
      ['putMany not an array', () => db.putMany({} as never), 'INVALID_ARGUMENT'],
      ['putMany with a non-JSON value', () => db.putMany([{ namespace: 'ns', key: 'k', value: Symbol('x') as never }]), 'INVALID_VALUE'],
      ['unknown put option', () => db.put('ns', 'k', 1, { ack: 'most' } as never), 'INVALID_ARGUMENT'],
      ['ifVersion not an id', () => db.put('ns', 'k', 1, { ifVersion: 5 } as never), 'INVALID_ARGUMENT'],
      ['unknown query option', () => db.query('ns', {}, { sort: 1 } as never), 'INVALID_ARGUMENT'],
      ['unknown aggregate option', () => db.aggregate('ns', { op: 'count' }, { where: 1 } as never), 'INVALID_ARGUMENT'],
      ['unknown listKeys option', () => db.listKeys('ns', { reverse: true } as never), 'INVALID_ARGUMENT'],
      ['unknown query operator', () => db.query('ns', { filter: { a: { $near: 1 } } }), 'INVALID_QUERY'],
      ['query with a bad namespace', () => db.query('', {}), 'INVALID_NAMESPACE'],
      ['bad regex', () => db.query('ns', { filter: { a: { $matches: '(' } } }), 'INVALID_QUERY'],
      ['bad time', () => db.getAt('ns', 'k', 'not a time'), 'INVALID_ARGUMENT'],
      ['createIndex with a bad path', () => db.createIndex('ns', '$x'), 'INVALID_QUERY'],
      ['dropIndex of no index', () => db.dropIndex('ns', 'x'), 'INDEX_NOT_FOUND'],
      ['queryView of no view', () => db.queryView('none'), 'VIEW_NOT_FOUND'],
    ];
    for (const [name, call, code] of cases) {
      const e = await expectKoruError(call, code).catch((err: unknown) => {
        throw new Error(`${name}: ${String(err)}`);
      });
      expect(e.code, name).toBe(code);
    }
    expect(await db.listNamespaces()).toEqual([]);
    expect(db.seq).toBe(0);
  });
}
