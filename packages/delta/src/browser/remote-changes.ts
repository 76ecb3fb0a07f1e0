/**
 * `changes(spec)` for a handle whose feed is a subscription: an async iterator that
 * takes one event at a time (the subscription's handler waits until the consumer took
 * it), so a slow consumer falls behind exactly as a slow handler does (`lagged`).
 */
import type { Subscription } from '@koru/query';
import type { FeedEvent } from './remote-subscription.js';

/** An async iterator over the events of the subscription `start` makes. `return()` releases it. */
export function changesOf(start: (handler: (event: FeedEvent) => Promise<void>) => Subscription): AsyncIterableIterator<FeedEvent> {
  let offered: { event: FeedEvent; taken: () => void } | undefined;
  let waiting: { resolve: (r: IteratorResult<FeedEvent>) => void; reject: (e: unknown) => void } | undefined;
  let finished = false;
  let failure: { error: unknown } | undefined;

  const sub = start(
    (event) =>
      new Promise<void>((taken) => {
        if (waiting !== undefined) {
          const w = waiting;
          waiting = undefined;
          w.resolve({ value: event, done: false });
          taken();
        } else offered = { event, taken };
      }),
  );
  const end = (error?: { error: unknown }): void => {
    if (finished) return;
    finished = true;
    failure = error;
    const w = waiting;
    waiting = undefined;
    if (w !== undefined) {
      if (error !== undefined) w.reject(error.error);
      else w.resolve({ value: undefined, done: true });
    }
  };
  sub.done.then(
    () => end(),
    (e: unknown) => end({ error: e }),
  );

  const iterator: AsyncIterableIterator<FeedEvent> = {
    next(): Promise<IteratorResult<FeedEvent>> {
      if (offered !== undefined) {
        const o = offered;
        offered = undefined;
        o.taken();
        return Promise.resolve({ value: o.event, done: false });
      }
      if (finished) {
        if (failure !== undefined) {
          const f = failure;
          failure = undefined;
          return Promise.reject(f.error);
        }
        return Promise.resolve({ value: undefined, done: true });
      }
      return new Promise((resolve, reject) => (waiting = { resolve, reject }));
    },
    return(): Promise<IteratorResult<FeedEvent>> {
      sub.unsubscribe();
      end();
      offered = undefined;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
