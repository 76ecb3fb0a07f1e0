// The browser database's pieces that run anywhere: the handle overrides every member of
// KoruDelta (so a method added later cannot reach the empty storage of the tab side),
// errors keep their class across the wire, and the worker's server answers calls,
// feeds and close over a real MessageChannel.
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidKeyError, InvalidNamespaceError, InvalidValueError, KoruError, UnsupportedError, ValueTooDeepError, ValueTooLargeError } from '@koru/engine';
import { ClosedError, CorruptionError, DatabaseLockedError, HistoryPrunedError, IoError, KeyNotFoundError, StorageFullError, VersionConflictError, VersionNotFoundError, MemoryAdapter } from '@koru/storage';
import { IndexNotFoundError, InvalidQueryError, LimitExceededError, ViewExistsError, ViewNotFoundError } from '@koru/query';
import { KoruDelta } from '../src/koru-delta.js';
import { SharedDatabase } from '../src/browser/shared-database.js';
import { errorFromWire, errorToWire } from '../src/browser/errors.js';
import { serveDatabase, type WorkerPort } from '../src/browser/worker-serve.js';
import type { FromWorker, ToWorker } from '../src/browser/protocol.js';

describe('SharedDatabase overrides every public member of KoruDelta', () => {
  it('each prototype member of KoruDelta (method, getter) has its own override', () => {
    const base = Object.getOwnPropertyNames(KoruDelta.prototype).filter((n) => n !== 'constructor');
    expect(base.length).toBeGreaterThan(30);
    const missing = base.filter((n) => {
      const mine = Object.getOwnPropertyDescriptor(SharedDatabase.prototype, n);
      const theirs = Object.getOwnPropertyDescriptor(KoruDelta.prototype, n)!;
      if (mine === undefined) return true;
      // A getter must be overridden as a getter, a method as a method.
      return (theirs.get !== undefined) !== (mine.get !== undefined) || (typeof theirs.value === 'function') !== (typeof mine.value === 'function');
    });
    expect(missing).toEqual([]);
  });
});

describe('errors across the worker keep their code, message, details and class', () => {
  const samples: KoruError[] = [
    new InvalidNamespaceError('bad ns', { details: { namespace: '_x' } }),
    new InvalidKeyError('bad key'),
    new InvalidValueError('bad value'),
    new ValueTooLargeError('too large'),
    new ValueTooDeepError('too deep'),
    new InvalidArgumentError('bad arg'),
    new UnsupportedError('nope'),
    new KeyNotFoundError('users', 'alice'),
    new VersionNotFoundError('users', 'alice', 'a'.repeat(64)),
    new VersionConflictError('users', 'alice', 'b'.repeat(64), null),
    new CorruptionError('damaged', { file: 'x.seg', offset: 12 }),
    new DatabaseLockedError('held', { path: 'p' }),
    new ClosedError(),
    new StorageFullError('full'),
    new IoError('io', undefined, { method: 'put', outcome: 'unknown' }),
    new HistoryPrunedError('pruned', { namespace: 'n', key: 'k' }),
    new InvalidQueryError('bad query', 'filter.x'),
    new IndexNotFoundError('users', 'age'),
    new ViewNotFoundError('v'),
    new ViewExistsError('v'),
    new LimitExceededError('too many', 64),
  ];
  for (const e of samples) {
    it(`${e.code} comes back as ${e.constructor.name}`, () => {
      // Through structured clone, as across a port.
      const back = errorFromWire(structuredClone(errorToWire(e)));
      expect(back).toBeInstanceOf(e.constructor);
      expect({ name: back.name, code: back.code, message: back.message, details: back.details }).toEqual({ name: e.name, code: e.code, message: e.message, details: e.details });
    });
  }
  it('anything else thrown is INTERNAL naming it; a malformed wire error is IO_ERROR', () => {
    expect(errorToWire(new TypeError('boom'))).toEqual({ code: 'INTERNAL', message: 'the database worker failed: boom', details: { name: 'TypeError' } });
    expect(errorFromWire({ nope: 1 }).code).toBe('IO_ERROR');
  });
});

/** A worker's server on one end of a MessageChannel; `send` posts to it, `next(t)` waits for a message of type t. */
function served() {
  const channel = new MessageChannel();
  serveDatabase(channel.port2 as unknown as WorkerPort, () => new MemoryAdapter());
  const inbox: FromWorker[] = [];
  const waiters: Array<() => void> = [];
  channel.port1.on('message', (m: FromWorker) => {
    inbox.push(m);
    for (const w of waiters.splice(0)) w();
  });
  return {
    send: (m: ToWorker) => channel.port1.postMessage(m),
    async next<T extends FromWorker['t']>(t: T, id?: number): Promise<Extract<FromWorker, { t: T }>> {
      for (;;) {
        const ix = inbox.findIndex((m) => m.t === t && (id === undefined || ('id' in m && m.id === id)));
        if (ix >= 0) return inbox.splice(ix, 1)[0] as Extract<FromWorker, { t: T }>;
        await new Promise<void>((r) => waiters.push(r));
      }
    },
    close: () => {
      channel.port1.close();
      channel.port2.close();
    },
  };
}

describe('the worker serves calls, feeds and close over a port', () => {
  it('opens, answers calls with the seq after them, rebuilds errors, feeds events after `since`, answers everything before `closed`', async () => {
    const w = served();
    try {
      w.send({ t: 'open', path: 'db', options: {}, retryMs: 0 });
      const ready = await w.next('ready');
      expect(ready.state.seq).toBe(0);
      expect(ready.state.nodeId).toMatch(/^[0-9a-f]+$/);

      w.send({ t: 'calls', calls: [{ id: 1, method: 'put', args: ['users', 'alice', { n: 1 }] }] });
      const put = await w.next('result', 1);
      expect(put.seq).toBe(1);
      expect((put.value as { key: string }).key).toBe('alice');

      w.send({ t: 'calls', calls: [{ id: 2, method: 'get', args: ['users', 'bob'] }] });
      const missing = await w.next('error', 2);
      expect(errorFromWire(missing.error)).toBeInstanceOf(KeyNotFoundError);

      // A name that is not a forwarded method is refused, never looked up on the database.
      w.send({ t: 'calls', calls: [{ id: 3, method: 'close' as never, args: [] }] });
      expect((await w.next('error', 3)).error.code).toBe('INTERNAL');

      // A feed from seq 0 replays the first change, then follows.
      w.send({ t: 'sub', id: 4, spec: { namespace: 'users', since: 0 } });
      expect((await w.next('subbed', 4)).since).toBe(0);
      expect((await w.next('event', 4)).event).toMatchObject({ seq: 1, key: 'alice' });
      w.send({ t: 'calls', calls: [{ id: 5, method: 'put', args: ['users', 'carol', { n: 3 }] }] });
      expect((await w.next('event', 4)).event).toMatchObject({ seq: 2, key: 'carol' });
      // The tab hears of commits without asking (one `state` per burst, seq rising).
      expect((await w.next('state')).seq).toBe(1);
      expect((await w.next('state')).seq).toBe(2);

      // exportVersions crosses as one array.
      w.send({ t: 'calls', calls: [{ id: 6, method: 'exportVersions', args: [{ namespace: 'users' }] }] });
      expect(((await w.next('result', 6)).value as unknown[]).length).toBe(2);

      // Calls sent before close are all answered before `closed`; a batch's puts share a commit.
      for (let b = 0; b < 2; b++) {
        w.send({ t: 'calls', calls: Array.from({ length: 10 }, (_, i) => ({ id: 100 + b * 10 + i, method: 'put' as const, args: ['bulk', `k${b * 10 + i}`, i] })) });
      }
      w.send({ t: 'close' });
      await w.next('closed');
      const seqs: number[] = [];
      for (let i = 0; i < 20; i++) seqs.push((await w.next('result', 100 + i)).seq);
      // Each answer carries the seq at that moment: at least its own write's, never falling.
      expect(seqs.every((s, i) => s >= 3 + i && (i === 0 || s >= seqs[i - 1]!))).toBe(true);
      expect(seqs.at(-1)).toBe(22);
    } finally {
      w.close();
    }
  });

  it('forwards listKeys with its page options, and countKeys', async () => {
    const w = served();
    try {
      w.send({ t: 'open', path: 'db', options: {}, retryMs: 0 });
      await w.next('ready');
      w.send({ t: 'calls', calls: ['a1', 'a2', 'a3', 'b1'].map((k, i) => ({ id: i + 1, method: 'put' as const, args: ['ns', k, i] })) });
      await w.next('result', 4);
      w.send({
        t: 'calls',
        calls: [
          { id: 5, method: 'listKeys', args: ['ns', { prefix: 'a', after: 'a1', limit: 1 }] },
          { id: 6, method: 'countKeys', args: ['ns'] },
          { id: 7, method: 'listKeys', args: ['ns', { max: 1 }] },
        ],
      });
      expect((await w.next('result', 5)).value).toEqual(['a2']);
      expect((await w.next('result', 6)).value).toBe(4);
      expect(errorFromWire((await w.next('error', 7)).error)).toBeInstanceOf(InvalidArgumentError);
    } finally {
      w.close();
    }
  });

  it('a failed open is reported as its KoruError', async () => {
    const w = served();
    try {
      w.send({ t: 'open', path: 'db', options: { maxDepth: -1 }, retryMs: 0 });
      expect(errorFromWire((await w.next('failed')).error)).toBeInstanceOf(InvalidArgumentError);
    } finally {
      w.close();
    }
  });
});
