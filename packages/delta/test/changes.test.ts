// The change feed: subscriptions and async iterators, since-replay, lagged subscribers.
import { ErrorCodes, KoruDelta, type ChangeEvent, type LaggedEvent } from '@koru/delta';
import { describe, expect, it } from 'vitest';

type Event = ChangeEvent | LaggedEvent;

/** Takes `n` events from an iterator, then releases it unless `keep`. */
async function take(it: AsyncIterableIterator<Event>, n: number, keep = false): Promise<Event[]> {
  const out: Event[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  if (!keep) await it.return?.();
  return out;
}

const brief = (e: Event) => (e.type === 'lagged' ? `lagged@${e.seq}` : `${e.seq}:${e.changeType}:${e.namespace}/${e.key}`);

describe('change feed', () => {
  it('delivers insert, update and delete events with their values, in commit order', async () => {
    const db = await KoruDelta.start();
    const seen: Event[] = [];
    const sub = db.subscribe({ namespace: 'users' }, (e) => {
      seen.push(e);
    });
    const v1 = await db.put('users', 'alice', { n: 1 });
    await db.put('other', 'x', 1);
    const v2 = await db.put('users', 'alice', { n: 2 });
    await db.delete('users', 'alice');
    await db.put('users', 'alice', { n: 3 });
    await new Promise((r) => setTimeout(r, 10));
    expect(seen.map(brief)).toEqual(['1:insert:users/alice', '3:update:users/alice', '4:delete:users/alice', '5:insert:users/alice']);
    expect(seen[1]).toMatchObject({
      type: 'change',
      value: { n: 2 },
      previousValue: { n: 1 },
      versionId: v2.versionId,
      previousVersion: v1.versionId,
      timestamp: v2.timestamp,
    });
    expect(seen[2]).toMatchObject({ value: null, previousValue: { n: 2 } });
    expect(seen[3]).toMatchObject({ previousValue: null });
    sub.unsubscribe();
    await sub.done;
    await db.close();
  });

  it('selects by key, value filter and change type', async () => {
    const db = await KoruDelta.start();
    const byKey = db.changes({ namespace: 'orders', key: 'o2' });
    const paid = db.changes({ namespace: 'orders', filter: { status: 'paid' } });
    const deletes = db.changes({ types: ['delete'] });
    await db.put('orders', 'o1', { status: 'new' });
    await db.put('orders', 'o2', { status: 'new' });
    await db.put('orders', 'o1', { status: 'paid' });
    await db.put('orders', 'o2', { status: 'paid' });
    await db.delete('orders', 'o1');
    expect((await take(byKey, 2)).map(brief)).toEqual(['2:insert:orders/o2', '4:update:orders/o2']);
    expect((await take(paid, 2)).map(brief)).toEqual(['3:update:orders/o1', '4:update:orders/o2']);
    expect((await take(deletes, 1)).map(brief)).toEqual(['5:delete:orders/o1']);
    await db.close();
  });

  it('since replays every change after it, then continues live without a gap or a duplicate', async () => {
    const db = await KoruDelta.start();
    for (let i = 0; i < 5; i++) await db.put('t', `k${i}`, i);
    const it = db.changes({ since: 2 });
    const first = await take(it, 3, true);
    expect(first.map((e) => e.seq)).toEqual([3, 4, 5]);
    const more = Promise.all([it.next(), it.next()]);
    await db.put('t', 'k5', 5);
    await db.put('t', 'k6', 6);
    expect((await more).map((r) => (r.value as ChangeEvent).seq)).toEqual([6, 7]);
    await it.return?.();
    await db.close();
  });

  it('a burst past the buffer gives a slow consumer one lagged event; resuming from its seq yields every change exactly once', async () => {
    const db = await KoruDelta.start();
    const it = db.changes({ namespace: 'burst' });
    const got: number[] = [];
    const firstWrite = db.put('burst', 'k0', 0);
    const r0 = await it.next();
    await firstWrite;
    got.push((r0.value as ChangeEvent).seq);
    // The consumer stalls while 10,000 changes are committed.
    await Promise.all(Array.from({ length: 10_000 }, (_, i) => db.put('burst', `k${(i % 50) + 1}`, i)));
    const r1 = await it.next();
    expect(r1.value).toMatchObject({ type: 'lagged', seq: 1 });
    expect((r1.value as LaggedEvent).behind).toBe(10_000);
    expect((await it.next()).done).toBe(true);
    const resumed = db.changes({ namespace: 'burst', since: (r1.value as LaggedEvent).seq, bufferSize: 20_000 });
    for (const e of await take(resumed, 10_000)) got.push((e as ChangeEvent).seq);
    expect(got.length).toBe(10_001);
    expect(new Set(got).size).toBe(10_001);
    expect(got).toEqual(Array.from({ length: 10_001 }, (_, i) => i + 1));
    await db.close();
  });

  it('rejects bad specs with typed errors; closing the database ends every stream', async () => {
    const db = await KoruDelta.start();
    const code = (f: () => unknown) => {
      try {
        f();
        return 'no error';
      } catch (e) {
        return (e as { code: string }).code;
      }
    };
    expect(code(() => db.changes({ namespace: '_x' }))).toBe(ErrorCodes.INVALID_NAMESPACE);
    expect(code(() => db.changes({ key: 'k' }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(code(() => db.changes({ types: ['upsert' as 'insert'] }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(code(() => db.changes({ since: 5 }))).toBe(ErrorCodes.INVALID_ARGUMENT);
    expect(code(() => db.changes({ filter: { a: { $nope: 1 } } }))).toBe(ErrorCodes.INVALID_QUERY);
    const it = db.changes();
    const pending = it.next();
    const sub = db.subscribe({}, () => {});
    await db.close();
    expect((await pending).done).toBe(true);
    await sub.done;
  });

  it('awaits an async handler before the next event; one that falls behind its buffer gets lagged and ends', async () => {
    const db = await KoruDelta.start();
    const seen: string[] = [];
    let inHandler = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sub = db.subscribe({ namespace: 'slow', bufferSize: 100 }, async (e) => {
      expect(inHandler).toBe(0); // never two at once
      inHandler++;
      seen.push(brief(e));
      if (seen.length === 1) await gate; // stalls on the first change
      inHandler--;
    });
    await db.put('slow', 'k', 0);
    await Promise.all(Array.from({ length: 150 }, (_, i) => db.put('slow', 'k', i + 1)));
    release();
    await sub.done;
    expect(seen).toEqual(['1:insert:slow/k', 'lagged@1']);
    // Resuming from the lagged seq yields the rest, each once.
    const rest: number[] = [];
    const again = db.subscribe({ namespace: 'slow', since: 1, bufferSize: 1_000 }, (e) => {
      if (e.type === 'change') rest.push(e.seq);
    });
    await new Promise((r) => setTimeout(r, 20));
    again.unsubscribe();
    await again.done;
    expect(rest).toEqual(Array.from({ length: 150 }, (_, i) => i + 2));
    await db.close();
  });

  it('until ends a replay after that seq, whether or not its last change matched', async () => {
    const db = await KoruDelta.start();
    for (let i = 0; i < 6; i++) await db.put(i % 2 === 0 ? 'even' : 'odd', `k${i}`, i);
    const got: string[] = [];
    for await (const e of db.changes({ namespace: 'even', since: 0, until: 4 })) got.push(brief(e));
    expect(got).toEqual(['1:insert:even/k0', '3:insert:even/k2']);
    const sub = db.subscribe({ since: 2, until: 3 }, (e) => {
      got.push(brief(e));
    });
    await sub.done; // ends by itself
    expect(got.slice(2)).toEqual(['3:insert:even/k2']);
    expect(() => db.changes({ since: 3, until: 2 })).toThrow(/until must be a seq of at least since/);
    await db.close();
  });

  it('a throwing handler ends its subscription and rejects done, nothing else', async () => {
    const db = await KoruDelta.start();
    const sub = db.subscribe({}, () => {
      throw new Error('handler broke');
    });
    await db.put('a', 'b', 1);
    await expect(sub.done).rejects.toThrow('handler broke');
    await db.put('a', 'b', 2);
    expect(await db.get('a', 'b')).toBe(2);
    await db.close();
  });
});
