// Anti-entropy digests kept up as versions arrive (a key's digest extended by each new
// newest version) must equal digests computed from scratch from the stored ids, in
// every order of arrival, and must forget what a purge or retention cut.
import { CausalStorage, EMPTY_DIGEST, type ImportedVersion, type Version } from '@koru/storage';
import { fcSeed } from '@koru/vitest-preset/helpers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { manualClock } from './conformance.js';

const wire = (v: Version): ImportedVersion => JSON.parse(JSON.stringify(v)) as ImportedVersion;
const everything = (from: CausalStorage): ImportedVersion[] => [...from.committed()].filter((v) => v.namespace !== '_koru').map(wire);

/** Every key digest of `ns` under the root, sorted by key. */
const keyDigests = (s: CausalStorage, ns: string): Array<readonly [string, string]> => s.merkleKeys(ns, '');

describe('anti-entropy digests', () => {
  it('kept up version by version equal digests computed once from the stored ids', async () => {
    const seed = fcSeed('merkle digests');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 9 }), fc.boolean()), { minLength: 1, maxLength: 40 }), async (writes) => {
        const clock = manualClock();
        const live = await CausalStorage.open({ now: clock.now });
        const late = await CausalStorage.open({ now: manualClock().now });
        try {
          // `live` is asked for digests before, between and after the writes (so it keeps
          // them up); `late` gets the same versions and is asked only at the end.
          expect(live.stateRoot()).toBe(EMPTY_DIGEST);
          for (const [key, n, remove] of writes) {
            clock.t += 1;
            if (remove && live.contains('ns', key)) await live.delete('ns', key);
            else await live.put('ns', key, { n });
            live.stateRoot();
          }
          await late.applyReplicated(everything(live));
          expect(keyDigests(live, 'ns')).toEqual(keyDigests(late, 'ns'));
          expect(live.stateRoot()).toBe(late.stateRoot());
        } finally {
          await live.close();
          await late.close();
        }
      }),
      { seed, numRuns: 40 },
    );
  });

  it('agree when versions arrive out of clock order (a key digest then recomputed)', async () => {
    const ca = manualClock();
    const cb = manualClock();
    const a = await CausalStorage.open({ now: ca.now });
    const b = await CausalStorage.open({ now: cb.now });
    const c = await CausalStorage.open({ now: manualClock().now });
    try {
      await a.put('ns', 'k', 1);
      await b.applyReplicated(everything(a));
      a.stateRoot();
      b.stateRoot();
      // Concurrent writes: b's is older by clock than a's second one.
      cb.t += 5;
      await b.put('ns', 'k', 'from b');
      ca.t += 10;
      await a.put('ns', 'k', 'from a');
      await a.applyReplicated(everything(b)); // older than a's head: inserted mid-history
      await b.applyReplicated(everything(a));
      await c.applyReplicated(everything(a));
      expect(a.history('ns', 'k')).toHaveLength(3);
      expect(a.stateRoot()).toBe(b.stateRoot());
      expect(a.stateRoot()).toBe(c.stateRoot());
      expect(keyDigests(a, 'ns')).toEqual(keyDigests(c, 'ns'));
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('forget a purged history: the digest is the kept versions', async () => {
    const clock = manualClock();
    const s = await CausalStorage.open({ now: clock.now });
    const fresh = await CausalStorage.open({ now: manualClock().now });
    try {
      for (let i = 0; i < 5; i++) {
        clock.t += 1;
        await s.put('ns', 'k', i);
        await s.put('ns', 'other', i);
        s.stateRoot();
      }
      await s.purge('ns', 'k');
      clock.t += 1;
      await s.put('ns', 'k', 'after');
      await s.put('ns', 'other', 'after');
      // The kept ids, digested from scratch by a store that never saw the cut ones.
      await fresh.importVersions([...s.committed()].map(wire));
      expect(keyDigests(s, 'ns')).toEqual(keyDigests(fresh, 'ns'));
      expect(s.stateRoot()).toBe(fresh.stateRoot());
    } finally {
      await s.close();
      await fresh.close();
    }
  });
});
