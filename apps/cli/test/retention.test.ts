// kdelta retention set|show and kdelta purge, end to end (the built binary, a fresh -d
// directory, and a real `kdelta start` server reached with --url or through its directory).
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freshDatabase, kdelta, serveDatabase } from './run.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('kdelta retention', () => {
  it('sets and shows policies, persisting across invocations; refuses bad ones with exit 2', async () => {
    const { k } = freshDatabase(cleanups);
    expect(await k('retention', 'show')).toMatchObject({ code: 0, stdout: 'every namespace keeps everything\n' });
    expect(await k('retention', 'set', 'sessions', '--last', '5')).toMatchObject({ code: 0, stdout: 'retention sessions: the last 5 versions of each key\n' });
    expect((await k('retention', 'set', 'events', '--max-age', '30d', '--json')).stdout.trim()).toBe(JSON.stringify({ namespace: 'events', policy: { maxAgeMs: 2_592_000_000 } }));
    expect((await k('retention', 'show')).stdout).toBe('events  versions younger than 2592000000 ms (and the one current then)\nsessions  the last 5 versions of each key\n');
    expect(JSON.parse((await k('retention', 'show', 'other', '--json')).stdout)).toEqual({ namespace: 'other', policy: { keep: 'all' } });
    expect((await k('retention', 'set', 'sessions', '--keep-all')).code).toBe(0);
    expect((await k('retention', 'show', '--json')).stdout.trim()).toBe(JSON.stringify([{ namespace: 'events', policy: { maxAgeMs: 2_592_000_000 } }]));
    for (const bad of [['--last', '0'], ['--last', '2', '--keep-all'], ['--max-age', '3 days'], []]) {
      const r = await k('retention', 'set', 'sessions', ...bad);
      expect(r.code, bad.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});

describe('kdelta compact', () => {
  it('applies a retention policy now: the history is cut to it and verifies', async () => {
    const { k } = freshDatabase(cleanups);
    for (let i = 0; i < 4; i++) await k('set', 'logs/a', `{"i":${i}}`);
    await k('retention', 'set', 'logs', '--last', '2');
    // Set, not yet applied: no merge has reached the key.
    expect((await k('log', 'logs/a', '--json')).stdout.trim().split('\n')).toHaveLength(4);
    const r = await k('compact', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ diskBytesBefore: expect.any(Number), diskBytesAfter: expect.any(Number), ms: expect.any(Number) });
    const log = (await k('log', 'logs/a', '--json')).stdout.trim().split('\n').map((l) => JSON.parse(l) as { value: { i: number } });
    expect(log.map((v) => v.value.i)).toEqual([3, 2]);
    expect((await k('verify')).code).toBe(0);
    expect((await k('compact')).stdout).toMatch(/^compacted {2}[\d.]+ (kB|MB) → [\d.]+ (kB|MB) on disk in \d+ ms\n$/);
  });
});

describe('kdelta purge', () => {
  it('needs --yes, then erases the key: get finds nothing, log shows the tombstone alone', async () => {
    const { k } = freshDatabase(cleanups);
    await k('set', 'users/alice', '{"ssn":"123"}');
    await k('set', 'users/alice', '{"ssn":"456"}');
    const refused = await k('purge', 'users/alice');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    const r = await k('purge', 'users/alice', '--yes', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ namespace: 'users', key: 'alice', removed: [expect.any(String), expect.any(String)] });
    expect((await k('get', 'users/alice')).code).toBe(1);
    const log = await k('log', 'users/alice', '--json');
    const versions = log.stdout.trim().split('\n').map((l) => JSON.parse(l) as { deleted: boolean });
    expect(versions.map((v) => v.deleted)).toEqual([true]);
    expect((await k('verify')).code).toBe(0);
    expect((await k('purge', 'users/nobody', '--yes')).code).toBe(1);
  });
});

describe('kdelta retention and purge against a server', () => {
  it('work with --url, and through the server holding the directory, as locally', async () => {
    const { dir, k } = freshDatabase(cleanups);
    const { url, stop } = await serveDatabase(join(dir, 'db'), dir);
    try {
      const remote = (...args: string[]) => kdelta(['--url', url, ...args], { cwd: dir });
      expect(await remote('retention', 'set', 'sessions', '--last', '2')).toMatchObject({ code: 0, stdout: 'retention sessions: the last 2 versions of each key\n' });
      // The directory is the server's: a local command goes through it.
      expect(await k('retention', 'show')).toMatchObject({ code: 0, stdout: 'sessions  the last 2 versions of each key\n' });
      expect(JSON.parse((await remote('retention', 'show', 'sessions', '--json')).stdout)).toEqual({ namespace: 'sessions', policy: { lastVersions: 2 } });
      await remote('set', 'users/alice', '{"ssn":"123"}');
      await remote('set', 'users/alice', '{"ssn":"456"}');
      expect((await remote('purge', 'users/alice')).code).toBe(2);
      const r = await remote('purge', 'users/alice', '--yes', '--json');
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ namespace: 'users', key: 'alice', removed: [expect.any(String), expect.any(String)] });
      expect((await k('get', 'users/alice')).code).toBe(1);
      const nobody = await remote('purge', 'users/nobody', '--yes');
      expect(nobody.code).toBe(1);
      expect(nobody.stderr.trim().split('\n')).toHaveLength(1);
      expect((await remote('verify')).code).toBe(0);
      const compact = await remote('compact');
      expect(compact.code).toBe(2);
      expect(compact.stderr).toContain('local database');
    } finally {
      await stop();
    }
  });
});

describe('kdelta export | import of a pruned database', () => {
  it('round-trips: the copy has the same histories and verifies clean', async () => {
    const src = freshDatabase(cleanups);
    const dst = freshDatabase(cleanups);
    await src.k('retention', 'set', 'logs', '--last', '2');
    for (let i = 0; i < 5; i++) await src.k('set', 'logs/a', `{"i":${i}}`);
    await src.k('set', 'users/ann', '{"ssn":"1"}');
    await src.k('set', 'users/ann', '{"ssn":"2"}');
    expect((await src.k('purge', 'users/ann', '--yes')).code).toBe(0);
    const dump = await src.k('export');
    expect(dump.code, dump.stderr).toBe(0);
    expect(dump.stdout).toContain('"previousCut"');
    const imported = await dst.kIn(dump.stdout, 'import', '-');
    expect(imported.code, imported.stderr).toBe(0);
    expect((await dst.k('verify')).code).toBe(0);
    for (const target of ['logs/a', 'users/ann']) expect((await dst.k('log', target, '--json')).stdout).toBe((await src.k('log', target, '--json')).stdout);
  });
});
