// Versions replicated from another node (storage.applyReplicated, what the cluster calls)
// reach everything built on the store: the change feed (with a local seq), secondary
// indexes and views; a version that lost to a later clock changes none of them.
import { KoruDelta, Query, Filter, type ChangeEvent, type LaggedEvent, type Version } from '@koru/delta';
import { describe, expect, it } from 'vitest';

const wire = (v: Version) => JSON.parse(JSON.stringify(v)) as Parameters<KoruDelta['storage']['applyReplicated']>[0][number];

describe('replicated writes', () => {
  it('produce change events like local writes, with local seqs; a superseded one is marked', async () => {
    let t = Date.UTC(2026, 0, 1);
    const a = await KoruDelta.start({ now: () => t });
    const b = await KoruDelta.start({ now: () => t + 1_000 }); // b's clock runs a second ahead
    const events: Array<ChangeEvent | LaggedEvent> = [];
    const sub = b.subscribe({ namespace: 'users' }, (e) => void events.push(e));
    await b.put('users', 'local', { n: 0 }); // b's own change: seq 1
    const first = await a.put('users', 'alice', { age: 30 });
    await b.storage.applyReplicated([wire(first)]);
    // a concurrent pair on one key: b's own write is later by the clock, a's loses.
    const base = await a.put('users', 'carol', { v: 'base' });
    await b.storage.applyReplicated([wire(base)]);
    const mine = await b.put('users', 'carol', { v: 'b' });
    const theirs = await a.put('users', 'carol', { v: 'a' });
    await b.storage.applyReplicated([wire(theirs)]);
    await new Promise((r) => setTimeout(r, 10));
    sub.unsubscribe();
    const changes = events.filter((e): e is ChangeEvent => e.type === 'change');
    expect(changes.map((e) => [e.seq, e.key, e.changeType, e.value, e.superseded ?? false])).toEqual([
      [1, 'local', 'insert', { n: 0 }, false],
      [2, 'alice', 'insert', { age: 30 }, false],
      [3, 'carol', 'insert', { v: 'base' }, false],
      [4, 'carol', 'update', { v: 'b' }, false],
      [5, 'carol', 'update', { v: 'a' }, true],
    ]);
    // The replicated event carries the writer's version, unchanged.
    expect(changes[1]).toMatchObject({ versionId: first.versionId, timestamp: first.timestamp });
    expect(changes[4]).toMatchObject({ versionId: theirs.versionId, previousValue: { v: 'b' } });
    expect(await b.get('users', 'carol')).toEqual({ v: 'b' });
    expect(mine.hlc > theirs.hlc).toBe(true);
    t += 1;
    await a.close();
    await b.close();
  });

  it('keep indexes and auto-refresh views current, and a superseded version moves neither', async () => {
    let t = Date.UTC(2026, 0, 1);
    const a = await KoruDelta.start({ now: () => t });
    const b = await KoruDelta.start({ now: () => t + 1_000 });
    await b.createIndex('users', 'city');
    await b.createView({ name: 'oslo', namespace: 'users', query: Query.new().filter(Filter.eq('city', 'Oslo')), autoRefresh: true });
    const x = await a.put('users', 'x', { city: 'Oslo' });
    await b.storage.applyReplicated([wire(x)]);
    const byCity = async (city: string) => (await b.query('users', Query.new().filter(Filter.eq('city', city)))).rows.map((r) => r.key);
    expect(await byCity('Oslo')).toEqual(['x']);
    expect((await b.query('users', Query.new().filter(Filter.eq('city', 'Oslo')))).explain.strategy).toBe('index');
    expect((await b.queryView('oslo')).rows.map((r) => r.key)).toEqual(['x']);
    // b moves x to Rome (later clock); a's concurrent move to Lima arrives after and loses.
    const rome = await b.put('users', 'x', { city: 'Rome' });
    t += 1;
    const lima = await a.put('users', 'x', { city: 'Lima' });
    await b.storage.applyReplicated([wire(lima)]);
    expect(rome.hlc > lima.hlc).toBe(true);
    expect(await byCity('Rome')).toEqual(['x']);
    expect(await byCity('Lima')).toEqual([]);
    expect(await byCity('Oslo')).toEqual([]);
    expect((await b.queryView('oslo')).rows).toEqual([]);
    expect((await b.history('users', 'x')).map((v) => v.value)).toEqual([{ city: 'Oslo' }, { city: 'Lima' }, { city: 'Rome' }]);
    await a.close();
    await b.close();
  });
});
