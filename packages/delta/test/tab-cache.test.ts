// The tabs' read cache (src/browser/tab-cache.ts) on its own, and fed from the worker's
// real stream (serveDatabase over a MessageChannel, a memory store whose commits are
// synchronous): applying the stream in order leaves only current versions cached.
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { fcSeed, prng } from '@koru/vitest-preset/helpers';
import { KeyNotFoundError, MemoryAdapter, type Version } from '@koru/storage';
import { answer, TabCache } from '../src/browser/tab-cache.js';
import { serveDatabase, type WorkerPort } from '../src/browser/worker-serve.js';
import type { CallItem, FromWorker, ToWorker } from '../src/browser/protocol.js';

function version(ns: string, key: string, n: number, filler = ''): Version {
  return {
    namespace: ns,
    key,
    value: { n, filler },
    valueId: 'v'.repeat(64),
    versionId: `${key}-${n}`.padEnd(64, '0'),
    previousVersion: null,
    timestamp: '2026-01-01T00:00:00.000Z',
    hlc: '000000000000000-000000',
    node: 'n',
    deleted: false,
  };
}

const NOT_FOUND = { code: 'KEY_NOT_FOUND', message: 'key not found: c/x', details: { namespace: 'c', key: 'x' } };

describe('TabCache', () => {
  it('keeps versions and KEY_NOT_FOUND (deep-frozen), nothing else; an answer of a version held hands out the held object', async () => {
    const c = new TabCache();
    const v = version('c', 'k', 1);
    expect(c.admit('c', 'k', true, v, true)).toBe(v);
    expect(Object.isFrozen(v) && Object.isFrozen(v.value)).toBe(true);
    expect(c.lookup('c', 'k')?.version).toBe(v);
    // The same version read again: the object already handed out.
    const again = version('c', 'k', 1);
    expect(c.admit('c', 'k', true, again, true)).toBe(v);
    // A newer one replaces it.
    const v2 = version('c', 'k', 2);
    expect(c.admit('c', 'k', true, v2, true)).toBe(v2);
    expect(c.lookup('c', 'k')?.version).toBe(v2);

    c.admit('c', 'x', false, NOT_FOUND, true);
    const missing = c.lookup('c', 'x')!;
    await expect(answer(missing, 'get')).rejects.toBeInstanceOf(KeyNotFoundError);
    await expect(answer(missing, 'getVersion')).rejects.toMatchObject({ code: 'KEY_NOT_FOUND', details: { namespace: 'c', key: 'x' } });
    expect(await answer(missing, 'contains')).toBe(false);
    expect(await answer(c.lookup('c', 'k')!, 'get')).toBe(v2.value);
    expect(await answer(c.lookup('c', 'k')!, 'contains')).toBe(true);

    // Other errors, and answers from a stream not followed, are never kept (but frozen).
    c.admit('c', 'bad', false, { code: 'INVALID_KEY', message: 'bad', details: {} }, true);
    const stray = version('c', 'stray', 1);
    c.admit('c', 'stray', true, stray, false);
    expect([c.lookup('c', 'bad'), c.lookup('c', 'stray'), Object.isFrozen(stray)]).toEqual([undefined, undefined, true]);
    expect(c.size).toBe(2);
  });

  it('invalidations drop their keys; a skipped commit number clears everything; clear restarts the numbering', () => {
    const c = new TabCache();
    for (const k of ['a', 'b', 'c']) c.admit('ns', k, true, version('ns', k, 1), true);
    c.apply({ first: 1, last: 2, keys: ['ns', 'a', 'other', 'b'] });
    expect(['a', 'b', 'c'].map((k) => c.lookup('ns', k) !== undefined)).toEqual([false, true, true]);
    c.apply({ first: 3, last: 3, keys: ['ns', 'b'] });
    expect(c.size).toBe(1);
    // Commit 4 never arrived: nothing can be trusted.
    c.admit('ns', 'd', true, version('ns', 'd', 1), true);
    c.apply({ first: 5, last: 5, keys: [] });
    expect(c.size).toBe(0);
    c.admit('ns', 'e', true, version('ns', 'e', 1), true);
    c.apply({ first: 6, last: 6, keys: [] });
    expect(c.size).toBe(1);
    // A new stream numbers from 1 again.
    c.clear();
    c.admit('ns', 'e', true, version('ns', 'e', 1), true);
    c.apply({ first: 1, last: 1, keys: [] });
    expect(c.size).toBe(1);
  });

  it('a write this tab sends drops its keys (put, delete, purge, putMany, importVersions)', () => {
    const c = new TabCache();
    for (const k of ['p', 'd', 'u', 'm', 'i', 'kept']) c.admit('ns', k, true, version('ns', k, 1), true);
    c.writing('put', ['ns', 'p', 1]);
    c.writing('delete', ['ns', 'd']);
    c.writing('purge', ['ns', 'u']);
    c.writing('putMany', [[{ namespace: 'ns', key: 'm', value: 1 }, null]]);
    c.writing('importVersions', [[{ namespace: 'ns', key: 'i' }]]);
    c.writing('setRetention', ['ns', { keep: 'all' }]);
    expect(c.size).toBe(1);
    expect(c.lookup('ns', 'kept')).toBeDefined();
  });

  it('stays within its byte budget, evicting what was not read since the hand last passed', () => {
    const c = new TabCache(64 * 1024);
    const filler = 'x'.repeat(1000);
    c.admit('ns', 'hot', true, version('ns', 'hot', 1, filler), true);
    for (let i = 0; i < 500; i++) {
      c.admit('ns', `k${i}`, true, version('ns', `k${i}`, i, filler), true);
      expect(c.lookup('ns', 'hot')).toBeDefined();
      expect(c.bytes).toBeLessThanOrEqual(c.maxBytes);
    }
    expect(c.size).toBeLessThan(100);
    expect(c.lookup('ns', 'k0')).toBeUndefined();
    expect(c.lookup('ns', 'k499')).toBeDefined();
    // A value over an eighth of the budget is not kept at all.
    c.admit('ns', 'huge', true, version('ns', 'huge', 1, 'y'.repeat(10_000)), true);
    expect(c.lookup('ns', 'huge')).toBeUndefined();
    // Dropped entries do not pile up in the eviction queue.
    for (let i = 0; i < 5000; i++) {
      c.admit('ns', 'churn', true, version('ns', 'churn', i), true);
      c.drop('ns', 'churn');
    }
    expect(c.bytes).toBeLessThanOrEqual(c.maxBytes);
  });
});

/** A worker's server on one end of a MessageChannel, every message kept in order. */
function served() {
  const channel = new MessageChannel();
  serveDatabase(channel.port2 as unknown as WorkerPort, () => new MemoryAdapter());
  const inbox: FromWorker[] = [];
  let wake: (() => void) | undefined;
  channel.port1.on('message', (m: FromWorker) => {
    inbox.push(m);
    wake?.();
  });
  return {
    inbox,
    send: (m: ToWorker) => channel.port1.postMessage(m),
    async until(done: () => boolean): Promise<void> {
      while (!done()) await new Promise<void>((r) => (wake = r));
    },
    close: () => {
      channel.port1.close();
      channel.port2.close();
    },
  };
}

describe('the worker\'s stream keeps a tab\'s cache current', () => {
  it('random batches of writes and head reads of a few keys: applied in order (keys first), only current versions stay cached', async () => {
    const seed = fcSeed('tab-cache-stream');
    const random = prng(seed);
    const w = served();
    try {
      w.send({ t: 'open', path: 'db', options: {}, retryMs: 0 });
      await w.until(() => w.inbox.some((m) => m.t === 'ready'));
      const cache = new TabCache();
      const heads = new Map<number, string>();
      // The model: each write's answer names its key's current version (local writes win).
      const writes = new Map<number, string>();
      const model = new Map<string, string>();
      let seen = 0;
      const feed = (): void => {
        for (; seen < w.inbox.length; seen++) {
          const m = w.inbox[seen]!;
          if (m.inv !== undefined) cache.apply(m.inv);
          if (m.t === 'result' && writes.has(m.id)) {
            const v = m.value as Version;
            model.set(writes.get(m.id)!, v.deleted ? 'missing' : v.versionId);
          }
          if ((m.t === 'result' || m.t === 'error') && heads.has(m.id)) {
            const key = heads.get(m.id)!;
            cache.admit('c', key, m.t === 'result', m.t === 'result' ? m.value : m.error, true);
          }
        }
      };
      let id = 1;
      const keys = ['a', 'b', 'c'];
      for (let round = 0; round < 200; round++) {
        const calls: CallItem[] = [];
        const n = 1 + Math.floor(random() * 6);
        for (let i = 0; i < n; i++) {
          const key = keys[Math.floor(random() * keys.length)]!;
          const r = random();
          if (r < 0.45) {
            calls.push({ id, method: 'getVersion', args: ['c', key] });
            heads.set(id, key);
          } else {
            calls.push(r < 0.85 ? { id, method: 'put', args: ['c', key, { round, i }] } : { id, method: 'delete', args: ['c', key] });
            writes.set(id, key);
          }
          id++;
        }
        w.send({ t: 'calls', calls });
        const last = id - 1;
        await w.until(() => w.inbox.some((m) => (m.t === 'result' || m.t === 'error') && m.id === last));
        // Every answer is in and the keys still pending went out (riding on the `state`, or alone).
        await new Promise((r) => setTimeout(r, 5));
        feed();
        for (const k of keys) {
          const h = cache.lookup('c', k);
          if (h !== undefined) expect([round, k, h.version === undefined ? 'missing' : h.version.versionId]).toEqual([round, k, model.get(k) ?? 'missing']);
        }
      }
      // Whatever keys are still pending went out (with the last `state`, or alone).
      await new Promise((r) => setTimeout(r, 60));
      feed();
      // The truth, asked without touching the cache.
      w.send({ t: 'calls', calls: keys.map((k, i) => ({ id: 10_000 + i, method: 'getVersion' as const, args: ['c', k] })) });
      await w.until(() => w.inbox.some((m) => (m.t === 'result' || m.t === 'error') && m.id === 10_002));
      const truth = keys.map((_, i) => {
        const m = w.inbox.find((x) => (x.t === 'result' || x.t === 'error') && x.id === 10_000 + i)!;
        return m.t === 'result' ? (m.value as Version).versionId : 'missing';
      });
      const cached = keys.map((k) => {
        const h = cache.lookup('c', k);
        return h === undefined ? undefined : h.version === undefined ? 'missing' : h.version.versionId;
      });
      for (let i = 0; i < keys.length; i++) if (cached[i] !== undefined) expect(cached[i]).toBe(truth[i]);
      // The worker numbers the commits it reports without a hole.
      const invs = w.inbox.flatMap((m) => (m.inv === undefined ? [] : [m.inv]));
      for (let i = 1; i < invs.length; i++) expect(invs[i]!.first).toBe(invs[i - 1]!.last + 1);
      expect(invs.length).toBeGreaterThan(10);
    } finally {
      w.close();
    }
  });
});
