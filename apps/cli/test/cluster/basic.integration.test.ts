// Three real members: writes anywhere appear everywhere, a late joiner receives
// everything, `peers` lists every member, a graceful stop is seen as `left`.
import { afterEach, describe, expect, it } from 'vitest';
import { kdelta } from '../run.js';
import { call, converged, historyIds, peers, startMember, status, stopAll, waitFor } from './support.js';

afterEach(stopAll);

describe('a three-member cluster', () => {
  it('replicates writes from any member, brings a late joiner up to date, and lists its peers', async () => {
    const a = await startMember();
    const b = await startMember({ join: [a.address] });
    // Writes before the third member exists.
    for (let i = 0; i < 50; i++) expect((await call(i % 2 === 0 ? a : b, 'PUT', `/v1/kv/users/u${i}`, { i })).status).toBe(200);
    const c = await startMember({ join: [b.address] });
    const all = [a, b, c];
    await waitFor('every member to see two healthy peers', async () => (await Promise.all(all.map(peers))).every((ps) => ps.length === 2 && ps.every((p) => p.state === 'healthy')));
    // A write on each member, then every member has all of them.
    for (const [i, m] of all.entries()) expect((await call(m, 'PUT', `/v1/kv/orders/o${i}`, { from: m.id })).status).toBe(200);
    const root = await converged(all);
    for (const m of all) {
      const s = await status(m);
      expect(s.stateRoot).toBe(root);
      expect(s.versions).toBe(53);
      expect((await call(m, 'GET', '/v1/kv/orders/o2')).body).toEqual({ from: c.id });
      expect((await call(m, 'GET', '/v1/kv/users/u49')).body).toEqual({ i: 49 });
    }
    // Replicated versions keep their ids: the same history everywhere.
    expect(await historyIds(c, 'users', 'u0')).toEqual(await historyIds(a, 'users', 'u0'));
    // `kdelta peers` against a member lists the other two with their states.
    const r = await kdelta(['--url', c.url, 'peers', '--json']);
    expect(r.code).toBe(0);
    const listed = JSON.parse(r.stdout) as { node: string; peers: Array<{ id: string; state: string; address: string }> };
    expect(listed.node).toBe(c.id);
    expect(listed.peers.map((p) => p.id).sort()).toEqual([a.id, b.id].sort());
    expect(listed.peers.every((p) => p.state === 'healthy')).toBe(true);
    const table = await kdelta(['--url', a.url, 'peers']);
    expect(table.stdout).toContain(b.address);
    expect(table.stdout).toContain('healthy');
    // A graceful stop announces the member has left.
    expect(await b.stop()).toBe(0);
    await waitFor('a and c to see b as left', async () => (await Promise.all([a, c].map(peers))).every((ps) => ps.find((p) => p.id === b.id)?.state === 'left'));
  });
});
