// kdelta list NS --prefix P --after K --limit N: one page of a namespace's keys, on a
// local database and through a server (--url); `kdelta list` counts each namespace's
// keys; bad page flags are usage errors (exit 2), and the 1.0 spellings still work.
import { join } from 'node:path';
import { KoruDelta } from '@koru/delta';
import { afterEach, describe, expect, it } from 'vitest';
import { freshDatabase, kdelta, serveDatabase } from './run.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const json = (text: string): unknown => JSON.parse(text);

describe('kdelta list pages', () => {
  it('pages by --prefix, --after and --limit, locally and through a server', async () => {
    const { dir, k } = freshDatabase(cleanups, 'kdelta-pages-');
    const db = await KoruDelta.start({ path: join(dir, 'db') });
    await db.putMany(['a1', 'a2', 'a3', 'b1', 'b2', 'c'].map((key) => ({ namespace: 'users', key, value: 1 })));
    await db.delete('users', 'a2');
    await db.put('orders', 'o1', 1);
    await db.close();

    expect((await k('list', 'users')).stdout).toBe('a1\na3\nb1\nb2\nc\n');
    expect((await k('list', 'users', '--limit', '2')).stdout).toBe('a1\na3\n');
    expect((await k('list', 'users', '--limit', '2', '--after', 'a3')).stdout).toBe('b1\nb2\n');
    expect(json((await k('list', 'users', '--prefix', 'b', '--json')).stdout)).toEqual(['b1', 'b2']);
    expect(json((await k('list', 'users', '--prefix', 'a', '--after', 'a1', '--json')).stdout)).toEqual(['a3']);
    expect((await k('list')).stdout).toBe('orders  1 key\nusers  5 keys\n');

    for (const bad of [['list', '--limit', '2'], ['list', 'users', '--limit', '0'], ['list', 'users', '--limit', '100001'], ['list', 'users', '--limit', 'ten']]) {
      const r = await k(...bad);
      expect({ bad, code: r.code, lines: r.stderr.trim().split('\n').length }).toEqual({ bad, code: 2, lines: 1 });
    }

    const { url, stop } = await serveDatabase(join(dir, 'db'), dir);
    try {
      const remote = (...args: string[]) => kdelta(['--url', url, ...args], { cwd: dir });
      expect((await remote('list', 'users', '--prefix', 'b', '--limit', '1')).stdout).toBe('b1\n');
      expect(json((await remote('list', 'users', '--after', 'b1', '--json')).stdout)).toEqual(['b2', 'c']);
      expect(json((await remote('list', '--json')).stdout)).toEqual([{ namespace: 'orders', keys: 1 }, { namespace: 'users', keys: 5 }]);
    } finally {
      await stop();
    }
  });
});
