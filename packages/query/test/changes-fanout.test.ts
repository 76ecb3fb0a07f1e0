// Subscription fan-out: a write wakes only the subscriptions it may concern (by key, by
// namespace, or all namespaces), and every subscriber still gets exactly its changes.
import type { Change, Version } from '@koru/storage';
import { describe, expect, it } from 'vitest';
import { subscribe, type ChangeEvent, type ChangeSource, type LaggedEvent, type PrunedEvent } from '../src/index.js';

/** What a subscriber may receive. */
type FeedEvent = ChangeEvent | LaggedEvent | PrunedEvent;

/** An in-memory change source that counts how often a change is read. */
class Source implements ChangeSource {
  readonly changes: Change[] = [];
  readonly listeners = new Set<(seq: number) => void>();
  reads = 0;
  get seq(): number {
    return this.changes.length;
  }
  changeAt(seq: number): Change {
    this.reads++;
    return this.changes[seq - 1]!;
  }
  onCommit(listener: (seq: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  /** Commits a batch of writes, one notification for the batch. */
  commit(...writes: Array<[string, string]>): void {
    for (const [namespace, key] of writes) {
      const seq = this.changes.length + 1;
      const version = { namespace, key, value: seq, deleted: false, versionId: `v${seq}`, previousVersion: null, timestamp: 't' } as unknown as Version;
      this.changes.push({ seq, changeType: 'insert', version, previousValue: null });
    }
    for (const l of this.listeners) l(this.seq);
  }
}

const settle = () => new Promise((r) => setTimeout(r, 0));
const keys = (events: Array<FeedEvent>) => events.map((e) => (e.type === 'change' ? `${e.namespace}/${e.key}` : e.type));

describe('subscription fan-out', () => {
  it('a subscription with until ends once the head passes it, even when nothing after it matched', async () => {
    const source = new Source();
    source.commit(['a', 'x']);
    const seen: string[] = [];
    let ended = false;
    const ranged = subscribe(source, { namespace: 'a', since: 0, until: 3 }, (e) => void seen.push(keys([e])[0]!));
    void ranged.done.then(() => (ended = true));
    await settle();
    expect(seen).toEqual(['a/x']);
    // Changes 2 and 3 are in another namespace: only the head tells it the range is over.
    source.commit(['b', 'y']);
    await settle();
    expect(ended).toBe(false);
    source.commit(['b', 'z']);
    await settle();
    expect(ended).toBe(true);
    expect(seen).toEqual(['a/x']);
    expect(source.listeners.size).toBe(0);
  });

  it('a write to one namespace does not touch the subscriptions of another', async () => {
    const source = new Source();
    const idle = Array.from({ length: 1_000 }, () => subscribe(source, { namespace: 'b' }, () => {}));
    await settle();
    expect(source.listeners.size).toBe(1); // one dispatcher, not one listener each
    source.reads = 0;
    for (let i = 0; i < 100; i++) {
      source.commit(['a', `k${i}`]);
      await settle();
    }
    // One read per change (to route it), not one per change per subscription (100,000).
    expect(source.reads).toBe(100);
    // Far more than their buffer of changes went by: they did not lag, they were not concerned.
    const seen: string[] = [];
    const one = subscribe(source, { namespace: 'b', bufferSize: 1 }, (e) => void seen.push(keys([e])[0]!));
    source.commit(['b', 'x']);
    await settle();
    expect(seen).toEqual(['b/x']);
    for (const s of [...idle, one]) s.unsubscribe();
    expect(source.listeners.size).toBe(0);
  });

  it('each subscriber still gets exactly its changes, in order, across batches and replays', async () => {
    const source = new Source();
    source.commit(['a', 'k1'], ['b', 'k1']);
    const got = { all: [] as Array<FeedEvent>, a: [] as Array<FeedEvent>, ak1: [] as Array<FeedEvent>, b: [] as Array<FeedEvent>, replay: [] as Array<FeedEvent> };
    const subs = [
      subscribe(source, {}, (e) => void got.all.push(e)),
      subscribe(source, { namespace: 'a' }, (e) => void got.a.push(e)),
      subscribe(source, { namespace: 'a', key: 'k1' }, (e) => void got.ak1.push(e)),
      subscribe(source, { namespace: 'b', bufferSize: 2 }, (e) => void got.b.push(e)),
      subscribe(source, { namespace: 'a', since: 0 }, (e) => void got.replay.push(e)),
    ];
    source.commit(['a', 'k1'], ['a', 'k2'], ['c', 'k1']);
    await settle();
    source.commit(['b', 'k1']);
    await settle();
    source.commit(['c', 'x'], ['c', 'y'], ['c', 'z'], ['a', 'k1']);
    await settle();
    expect(keys(got.all)).toEqual(['a/k1', 'a/k2', 'c/k1', 'b/k1', 'c/x', 'c/y', 'c/z', 'a/k1']);
    expect(keys(got.a)).toEqual(['a/k1', 'a/k2', 'a/k1']);
    expect(keys(got.ak1)).toEqual(['a/k1', 'a/k1']);
    expect(keys(got.b)).toEqual(['b/k1']);
    expect(keys(got.replay)).toEqual(['a/k1', 'a/k1', 'a/k2', 'a/k1']);
    expect(got.a.map((e) => e.seq)).toEqual([3, 4, 10]);
    // A subscription in a namespace that is busy elsewhere still lags past its buffer when its own changes pile up.
    let slow: () => void = () => {};
    const lagging: Array<FeedEvent> = [];
    const s = subscribe(source, { namespace: 'd', bufferSize: 2 }, (e) => {
      lagging.push(e);
      return new Promise<void>((r) => (slow = r));
    });
    source.commit(['d', '1']);
    await settle();
    source.commit(['d', '2'], ['d', '3'], ['d', '4']);
    slow();
    await settle();
    expect(keys(lagging)).toEqual(['d/1', 'lagged']);
    // Closing the source ends them all.
    for (const l of [...source.listeners]) l(-1);
    await Promise.all([...subs, s].map((x) => x.done));
  });
});
