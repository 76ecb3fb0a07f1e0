// The 1.0 recipe: a plain `kdelta start`, then `kdelta start --join HOST[:PORT]`, forms a
// cluster. A joiner that cannot get in (nothing at the address, another key, no token)
// says why within 5 s of serving, keeps trying, and says when it got in. A token alone
// closes the cluster door as it closes the HTTP one.
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { kdelta } from '../run.js';
import { call, converged, logRecords, peers, startMember, stopAll, waitFor, type Member } from './support.js';

afterEach(stopAll);


/** A port nothing listens on (bound by the OS, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** Waits (at most 5 s) for the joiner's first "cannot join" record, and returns it. */
async function troubleOf(m: Member): Promise<Record<string, unknown>> {
  await waitFor('the joiner to say why it cannot join', () => logRecords(m, 'cannot join the cluster yet').length > 0, 5_000);
  return logRecords(m, 'cannot join the cluster yet')[0]!;
}

async function bothHealthy(a: Member, b: Member): Promise<void> {
  await waitFor('both members to see each other as healthy', async () => {
    const [pa, pb] = await Promise.all([peers(a), peers(b)]);
    return pa.some((p) => p.id === b.id && p.state === 'healthy') && pb.some((p) => p.id === a.id && p.state === 'healthy');
  });
}

describe('zero-configuration clusters', () => {
  it('a plain kdelta start is joined by kdelta start --join: both list each other in kdelta peers, and writes go both ways', async () => {
    const a = await startMember();
    expect(a.log()).toMatch(/others can join it/);
    expect((await call(a, 'PUT', '/v1/kv/users/before', { on: 'a' })).status).toBe(200);
    const b = await startMember({ join: [`127.0.0.1:${a.port}`] });
    await bothHealthy(a, b);
    // The log line travels through b's stdout, which may trail what its HTTP answers say.
    await waitFor("b's 'joined the cluster' log line", () => logRecords(b, 'joined the cluster').length > 0);
    expect(logRecords(b, 'joined the cluster')[0]).toMatchObject({ seed: `127.0.0.1:${a.port}`, peer: a.id });
    for (const [m, other] of [[a, b], [b, a]] as const) {
      const r = await kdelta(['--url', m.url, 'peers', '--json']);
      expect(r.code).toBe(0);
      expect((JSON.parse(r.stdout) as { peers: Array<{ id: string; state: string }> }).peers).toEqual([expect.objectContaining({ id: other.id, state: 'healthy' })]);
    }
    expect((await call(b, 'PUT', '/v1/kv/users/from-b', { on: 'b' })).status).toBe(200);
    expect((await call(a, 'PUT', '/v1/kv/users/from-a', { on: 'a' })).status).toBe(200);
    await converged([a, b]);
    for (const m of [a, b]) {
      expect((await call(m, 'GET', '/v1/kv/users/before')).body).toEqual({ on: 'a' });
      expect((await call(m, 'GET', '/v1/kv/users/from-b')).body).toEqual({ on: 'b' });
      expect((await call(m, 'GET', '/v1/kv/users/from-a')).body).toEqual({ on: 'a' });
    }
  });

  it('--join HOST without a port dials port 7878', async () => {
    // A key of this test's own: whatever may listen on 7878 here cannot admit it.
    const b = await startMember({ join: ['127.0.0.1'], key: `zero-config-${process.pid}-${Date.now()}` });
    expect(b.log()).toMatch(/joining 127\.0\.0\.1:7878/);
    expect((await troubleOf(b)).seed).toBe('127.0.0.1:7878');
  });

  it('a joiner whose seed is not there says so within 5 s with the reason, and joins once the seed appears', async () => {
    const port = await closedPort();
    const b = await startMember({ join: [`127.0.0.1:${port}`] });
    const trouble = await troubleOf(b);
    expect(trouble).toMatchObject({ seed: `127.0.0.1:${port}`, code: 'UNREACHABLE' });
    expect(String(trouble.reason)).toMatch(/connection refused/);
    expect(logRecords(b, 'joined the cluster')).toEqual([]);
    // The seed appears on that port: the joiner, still trying, gets in and says so.
    const a = await startMember({ port });
    await bothHealthy(a, b);
    await waitFor("b's 'joined the cluster' log line", () => logRecords(b, 'joined the cluster').length > 0);
    const joined = logRecords(b, 'joined the cluster');
    expect(joined).toHaveLength(1);
    expect(joined[0]).toMatchObject({ seed: `127.0.0.1:${port}`, peer: a.id });
    expect(joined[0]!.failedAttempts).toBeGreaterThan(0);
  });

  it('a joiner pointed at an HTTP server that is not KoruDelta says so within 5 s', async () => {
    const other = createHttpServer((_req, res) => res.writeHead(404).end('not here'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const port = (other.address() as { port: number }).port;
    try {
      const b = await startMember({ join: [`127.0.0.1:${port}`] });
      const trouble = await troubleOf(b);
      expect(trouble).toMatchObject({ seed: `127.0.0.1:${port}`, code: 'NOT_A_MEMBER' });
      expect(String(trouble.reason)).toMatch(/is not a KoruDelta cluster member \(it answered HTTP 404/);
    } finally {
      other.closeAllConnections();
      await new Promise((r) => other.close(r));
    }
  });

  it('a joiner holding another cluster key is told why within 5 s, is never admitted, and joins with the right key', async () => {
    const a = await startMember({ key: 'k1' });
    const wrong = await startMember({ key: 'k2', join: [a.address] });
    const trouble = await troubleOf(wrong);
    expect(trouble).toMatchObject({ seed: a.address, code: 'UNAUTHORIZED' });
    expect(String(trouble.reason)).toMatch(/wrong or missing cluster key/);
    // It keeps trying (and keeps being refused).
    await waitFor('a second refusal', () => logRecords(a, 'cluster peer refused').length >= 2, 10_000);
    expect(await peers(a)).toEqual([]);
    // The same node, restarted on its data with the right key, gets in.
    await wrong.stop();
    const right = await startMember({ dir: wrong.dir, key: 'k1', join: [a.address] });
    await bothHealthy(a, right);
    expect(logRecords(right, 'joined the cluster')).toHaveLength(1);
  });

  it('a server with only a token refuses a peer without it (the token is the cluster secret), and admits one holding it', async () => {
    const a = await startMember({ token: 'tok-1' });
    expect(a.log()).toMatch(/peers must hold the same token/);
    const outsider = await startMember({ join: [a.address] });
    expect(await troubleOf(outsider)).toMatchObject({ seed: a.address, code: 'UNAUTHORIZED' });
    const otherToken = await startMember({ token: 'tok-2', join: [a.address] });
    expect(await troubleOf(otherToken)).toMatchObject({ seed: a.address, code: 'UNAUTHORIZED' });
    expect((await call(a, 'PUT', '/v1/kv/secret/x', { n: 1 })).status).toBe(200);
    const friend = await startMember({ token: 'tok-1', join: [a.address] });
    await bothHealthy(a, friend);
    expect((await call(friend, 'PUT', '/v1/kv/secret/y', { n: 2 })).status).toBe(200);
    await converged([a, friend]);
    expect((await call(a, 'GET', '/v1/kv/secret/y')).body).toEqual({ n: 2 });
    // Nothing reached the outsiders, and the token never went on the wire (not in their logs).
    expect((await peers(a)).map((p) => p.id)).toEqual([friend.id]);
    for (const m of [outsider, otherToken]) {
      expect((await call(m, 'GET', '/v1/kv/secret/x')).status).toBe(404);
      expect(m.log()).not.toContain('tok-1');
    }
  });
});
