// Randomized: two local databases and the server write, delete and overwrite a few keys
// while links are cut and restored at random points (mid-push and mid-pull included);
// once every link is back, all three hold the same versions, heads and state root, and
// nothing is pending. The seed is printed (replay with KORU_SEED).
import { fcSeed, prng } from '@koru/vitest-preset/helpers';
import type { KoruDelta } from '@koru/delta';
import { afterEach, expect, test } from 'vitest';
import { allVersionIds, cleanupAll, heads, local, Proxy, server } from './support.js';

afterEach(cleanupAll);

test('random writes and link cuts on two locals and the server converge', async () => {
  const seed = fcSeed('sync random');
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const s = await server();
  const proxies = [await Proxy.start(s.port), await Proxy.start(s.port)];
  const locals = [await local(), await local()];
  const syncs = await Promise.all(locals.map((db, i) => db.sync(proxies[i]!.url)));
  const keys = ['a', 'b', 'c', 'd'];
  const write = async (db: KoruDelta, step: number): Promise<void> => {
    const key = pick(keys);
    if (rnd() < 0.15 && db.storage.contains('r', key)) await db.delete('r', key);
    else if (rnd() < 0.3) await db.putMany(keys.filter(() => rnd() < 0.5).map((k) => ({ namespace: 'r', key: k, value: { step, k } })));
    else await db.put('r', key, { step, pad: 'x'.repeat(Math.floor(rnd() * 2000)) });
  };
  for (let step = 0; step < 300; step++) {
    const r = rnd();
    if (r < 0.05) pick(proxies).cut();
    else if (r < 0.12) pick(proxies).restore();
    else if (r < 0.2) await new Promise((res) => setTimeout(res, Math.floor(rnd() * 20)));
    else await write(pick([...locals, s.db]), step);
  }
  for (const p of proxies) p.restore();
  // Twice: a pull may finish before the other local's push reaches the server.
  for (let round = 0; round < 2; round++) await Promise.all(syncs.map((x) => x.synced()));
  const expected = allVersionIds(s.db);
  for (const [i, db] of locals.entries()) {
    expect(allVersionIds(db), `local ${i} versions (seed ${seed})`).toEqual(expected);
    expect(heads(db), `local ${i} heads (seed ${seed})`).toEqual(heads(s.db));
    expect(db.storage.stateRoot(), `local ${i} state root (seed ${seed})`).toBe(s.db.storage.stateRoot());
    expect(syncs[i]!.status.pending).toBe(0);
    // The push cursor passes the versions just pulled (none of them ours) at the push
    // their commits ask for, which may come just after synced() resolved.
    for (let t = 0; t < 100 && syncs[i]!.status.lastPushedSeq < db.seq; t++) await new Promise((res) => setTimeout(res, 20));
    expect(syncs[i]!.status.lastPushedSeq).toBe(db.seq);
  }
});
