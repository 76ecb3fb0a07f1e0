// No way into the cluster past the token (issue 12, item 5): a server started with only
// `--token` derives its cluster key from the token, so a rogue cluster node in another
// process, with no key or a wrong one, receives no key and gets none of its writes in;
// a member with the same token joins. And a non-loopback bind never opens a cluster
// door without a secret.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { clusterKeyFromToken } from '@koru/cluster';
import { tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, exited, spawnServer } from './support.js';

const ROGUE = fileURLToPath(new URL('./fixtures/rogue-peer.mjs', import.meta.url));
const children: ChildProcess[] = [];
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    c.kill('SIGKILL');
    await exited(c);
  }
  for (const c of cleanups.splice(0)) c();
});

/** A server process with `--token tok` (its cluster door open for members), one secret stored. */
async function tokenServer(extra: readonly string[] = []): Promise<{ url: string; host: string }> {
  const t = tempDir('koru-door-');
  cleanups.push(t.cleanup);
  const s = await spawnServer(['-d', t.dir, '--token', 'tok', ...extra], { KORU_LOG_LEVEL: 'warn' });
  children.push(s.child);
  return { url: s.url, host: new URL(s.url).host };
}

const auth = { authorization: 'Bearer tok', 'content-type': 'application/json' };

/** Runs the rogue node against `target` with `key` ('-': none) for at most `ms`; its report. */
function rogue(target: string, key: string, ms: number): Promise<{ namespaces: string[]; peers: string[]; logs: string[] }> {
  const child = spawn(process.execPath, [ROGUE, target, key, String(ms)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  return new Promise((resolve, reject) => {
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`rogue exited ${code}: ${err}`));
      else resolve(JSON.parse(out) as { namespaces: string[]; peers: string[]; logs: string[] });
    });
  });
}

describe('the cluster door of a server with only a token', () => {
  it('keeps out a node with no key or a wrong key (nothing received, nothing written); the token-derived key gets in', { timeout: 40_000 }, async () => {
    const s = await tokenServer();
    expect((await fetch(`${s.url}/v1/kv/secret/k`, { method: 'PUT', headers: auth, body: JSON.stringify({ card: '4111' }) })).status).toBe(200);
    // No key, a wrong key, and the token itself used as the key (it is not the key).
    const keys = ['-', 'wrong-key', 'tok'];
    const reports = await Promise.all(keys.map((key) => rogue(s.host, key, 4_000)));
    for (const [i, r] of reports.entries()) {
      const key = keys[i]!;
      expect(r.namespaces, `key ${key}`).toEqual(['rogue']);
      expect(r.peers.filter((p) => p === 'healthy'), `key ${key}`).toEqual([]);
      // It was refused for its key, not merely slow.
      expect(r.logs.join('\n'), `key ${key}`).toMatch(/UNAUTHORIZED/);
    }
    expect((await fetch(`${s.url}/v1/kv/rogue/x`, { headers: auth })).status).toBe(404);
    expect(await (await fetch(`${s.url}/v1/namespaces`, { headers: auth })).json()).not.toContain('rogue');

    // The control: the same process holding the key derived from the same token is a
    // member: it receives the data and its write gets in.
    const member = await rogue(s.host, clusterKeyFromToken('tok'), 15_000);
    expect(member.namespaces).toContain('secret');
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = (await fetch(`${s.url}/v1/kv/rogue/x`, { headers: auth })).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
  });

  it('a second server with the same token joins and receives the data', { timeout: 40_000 }, async () => {
    const a = await tokenServer();
    expect((await fetch(`${a.url}/v1/kv/secret/k`, { method: 'PUT', headers: auth, body: JSON.stringify({ card: '4111' }) })).status).toBe(200);
    const b = await tokenServer(['--join', a.host]);
    const deadline = Date.now() + 20_000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = (await fetch(`${b.url}/v1/kv/secret/k`, { headers: auth })).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
  });

  it('a non-loopback bind without a token is refused before anything listens (no open cluster door)', async () => {
    const t = tempDir('koru-door-');
    cleanups.push(t.cleanup);
    const base = { ...process.env };
    for (const k of ['KORU_PORT', 'PORT', 'KORU_TOKEN', 'KORU_CLUSTER_KEY', 'KORU_DB_PATH']) delete base[k];
    const child = spawn(process.execPath, [BIN, '-d', t.dir, '--port', '0', '-b', '0.0.0.0'], { env: base, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    expect(await exited(child)).toBe(2);
    expect(err).toMatch(/refusing to serve 0\.0\.0\.0 without a token: .*join its cluster/);
  });
});
