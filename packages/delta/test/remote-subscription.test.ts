// The tab side of a feed whose subscription runs in the database worker: handler
// awaited one event at a time, `lagged` past the buffer, ends and failures settling
// `done`, the resume point, and `changes()` on top of it.
import { describe, expect, it } from 'vitest';
import { RemoteSubscription, type FeedEvent } from '../src/browser/remote-subscription.js';
import { changesOf } from '../src/browser/remote-changes.js';

const change = (seq: number) => ({ type: 'change', seq, changeType: 'insert', namespace: 'n', key: `k${seq}`, value: seq, previousValue: null, versionId: 'v', previousVersion: null, timestamp: 't' });
const tick = () => new Promise((r) => setTimeout(r, 0));

function make(options: { since?: number; bufferSize?: number; handler?: (e: FeedEvent) => void | Promise<void> } = {}) {
  const got: FeedEvent[] = [];
  let stops = 0;
  const sub = new RemoteSubscription(1, {}, options.since, options.bufferSize, options.handler ?? ((e) => void got.push(e)), () => void stops++);
  return { sub, got, stops: () => stops };
}

describe('RemoteSubscription', () => {
  it('hands events to the handler in order, awaiting each, deep-frozen, and tracks the seq to resume after', async () => {
    let running = 0;
    let overlapped = false;
    const order: number[] = [];
    const { sub } = make({
      since: 5,
      handler: async (e) => {
        if (running++ > 0) overlapped = true;
        await tick();
        order.push(e.seq);
        expect(Object.isFrozen(e)).toBe(true);
        running--;
      },
    });
    expect(sub.resumeFrom).toBe(5);
    for (const s of [6, 7, 8]) sub.event(change(s));
    expect(sub.resumeFrom).toBe(8);
    sub.event({ type: 'pruned', seq: 9, resyncFrom: 12 });
    expect(sub.resumeFrom).toBe(12);
    sub.end();
    await sub.done;
    expect(order).toEqual([6, 7, 8, 9]);
    expect(overlapped).toBe(false);
  });

  it('without since, starts where the owner said, once', () => {
    const { sub } = make();
    expect(sub.resumeFrom).toBeUndefined();
    sub.started(3);
    sub.started(9);
    expect(sub.resumeFrom).toBe(3);
  });

  it('a handler more than bufferSize behind gets one lagged event with the last seq it handled, and the feed is released', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const got: FeedEvent[] = [];
    const { sub, stops } = make({
      since: 0,
      bufferSize: 3,
      handler: async (e) => {
        got.push(e);
        if (e.type === 'change' && e.seq === 1) await gate;
      },
    });
    sub.event(change(1));
    await tick();
    for (const s of [2, 3, 4, 5]) sub.event(change(s));
    expect(stops()).toBe(1);
    sub.event(change(6)); // ignored: it ended
    release();
    await sub.done;
    expect(got).toEqual([change(1), { type: 'lagged', seq: 1, behind: 4 }]);
    expect(stops()).toBe(1);
  });

  it('a throwing handler rejects done with its error and releases the feed', async () => {
    const boom = new Error('boom');
    const { sub, stops } = make({
      handler: () => {
        throw boom;
      },
    });
    sub.event(change(1));
    await expect(sub.done).rejects.toBe(boom);
    expect(stops()).toBe(1);
  });

  it('an end from the worker delivers what is queued first; with an error, done rejects with it after', async () => {
    const { sub, got, stops } = make();
    sub.event(change(1));
    sub.event(change(2));
    const error = new Error('source closed');
    sub.end(error);
    await expect(sub.done).rejects.toBe(error);
    expect(got.map((e) => e.seq)).toEqual([1, 2]);
    expect(stops()).toBe(0); // the worker ended it: nothing to release
  });

  it('unsubscribe is idempotent, drops what is queued and releases the feed once', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const got: FeedEvent[] = [];
    const { sub, stops } = make({
      handler: async (e) => {
        got.push(e);
        await gate;
      },
    });
    sub.event(change(1)); // handed over at once: the handler holds it
    sub.event(change(2)); // queued
    sub.unsubscribe();
    sub.unsubscribe();
    sub.event(change(3));
    release();
    await sub.done;
    await tick();
    expect(got).toEqual([change(1)]);
    expect(stops()).toBe(1);
  });
});

describe('changesOf', () => {
  it('yields the events one at a time, ends when the feed ends, return() releases it', async () => {
    let sub!: RemoteSubscription;
    const it1 = changesOf((handler) => (sub = new RemoteSubscription(1, {}, 0, 10, handler, () => undefined)));
    sub.event(change(1));
    sub.event(change(2));
    expect((await it1.next()).value).toEqual(change(1));
    expect((await it1.next()).value).toEqual(change(2));
    const pending = it1.next();
    sub.end();
    expect(await pending).toEqual({ value: undefined, done: true });

    let stopped = 0;
    const it2 = changesOf((handler) => (sub = new RemoteSubscription(2, {}, 0, 10, handler, () => void stopped++)));
    await it2.return!();
    expect(stopped).toBe(1);
    expect(await it2.next()).toEqual({ value: undefined, done: true });
  });

  it('a failed feed makes next() reject with its error', async () => {
    let sub!: RemoteSubscription;
    const it = changesOf((handler) => (sub = new RemoteSubscription(1, {}, 0, 10, handler, () => undefined)));
    const error = new Error('gone');
    const pending = it.next();
    sub.end(error);
    await expect(pending).rejects.toBe(error);
  });
});
