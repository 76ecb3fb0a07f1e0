// listKeys pages and countKeys through KoruDelta, in memory and on disk (after a reopen):
// the options reach storage as given and bad ones are refused with INVALID_ARGUMENT.
import { afterEach, describe, expect, test } from 'vitest';
import { tempDir } from '@koru/vitest-preset/helpers';
import { KoruDelta, MAX_LIST_KEYS_LIMIT, type ListKeysOptions } from '@koru/delta';
import { expectKoruError } from './support.js';

const cleanups: Array<() => void> = [];
const open: KoruDelta[] = [];
afterEach(async () => {
  for (const db of open.splice(0)) await db.close();
  for (const c of cleanups.splice(0)) c();
});

async function start(path?: string): Promise<KoruDelta> {
  const db = await KoruDelta.start(path === undefined ? {} : { path, onWarning: () => {} });
  open.push(db);
  return db;
}

/** 30 keys `u00`…`u29`, `v0`, `w`; `u05`…`u14` deleted: 22 live. */
async function fill(db: KoruDelta): Promise<void> {
  await db.putMany(Array.from({ length: 30 }, (_, i) => ({ namespace: 'users', key: `u${String(i).padStart(2, '0')}`, value: { i } })));
  await db.put('users', 'v0', 1);
  await db.put('users', 'w', 1);
  for (let i = 5; i < 15; i++) await db.delete('users', `u${String(i).padStart(2, '0')}`);
}

async function expectPages(db: KoruDelta): Promise<void> {
  const all = await db.listKeys('users');
  expect(all).toHaveLength(22);
  expect(await db.countKeys('users')).toBe(22);
  expect(await db.countKeys('nobody')).toBe(0);
  expect(await db.listKeys('users', { limit: 6 })).toEqual(['u00', 'u01', 'u02', 'u03', 'u04', 'u15']);
  expect(await db.listKeys('users', { prefix: 'u1', after: 'u17', limit: 2 })).toEqual(['u18', 'u19']);
  expect(await db.listKeys('users', { prefix: 'v' })).toEqual(['v0']);
  // Pages chained by their last key give the whole list, each full but the last.
  const pages: string[][] = [];
  for (let after: string | undefined; ; ) {
    const page = await db.listKeys('users', { limit: 5, ...(after !== undefined ? { after } : {}) });
    pages.push(page);
    if (page.length < 5) break;
    after = page.at(-1);
  }
  expect(pages.map((p) => p.length)).toEqual([5, 5, 5, 5, 2]);
  expect(pages.flat()).toEqual(all);
}

describe('KoruDelta listKeys pages and countKeys', () => {
  test('in memory', async () => {
    const db = await start();
    await fill(db);
    await expectPages(db);
    await expectKoruError(() => db.listKeys('users', { limit: 0 }), 'INVALID_ARGUMENT', /limit/);
    await expectKoruError(() => db.listKeys('users', { limit: MAX_LIST_KEYS_LIMIT + 1 }), 'INVALID_ARGUMENT');
    await expectKoruError(() => db.listKeys('users', { cursor: 'u01' } as unknown as ListKeysOptions), 'INVALID_ARGUMENT', /unknown listKeys option "cursor"/);
    await expectKoruError(() => db.listKeys('users', 'u' as unknown as ListKeysOptions), 'INVALID_ARGUMENT');
    await expectKoruError(() => db.listKeys('users', { prefix: 1 } as unknown as ListKeysOptions), 'INVALID_ARGUMENT');
    await expectKoruError(() => db.listKeys('_x', { limit: 1 }), 'INVALID_NAMESPACE');
    await expectKoruError(() => db.countKeys('bad ns'), 'INVALID_NAMESPACE');
  });

  test('on disk, again after a reopen', async () => {
    const { dir, cleanup } = tempDir('koru-delta-pages-');
    cleanups.push(cleanup);
    const db = await start(dir);
    await fill(db);
    await expectPages(db);
    await db.close();
    open.splice(open.indexOf(db), 1);
    const again = await start(dir);
    await expectPages(again);
    await again.delete('users', 'w');
    expect(await again.countKeys('users')).toBe(21);
  });
});
