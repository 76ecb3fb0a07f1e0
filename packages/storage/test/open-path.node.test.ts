// A database is a directory: a file at its path is refused with INVALID_ARGUMENT, and a
// 1.0 database file (1.0 kept one JSON document at ~/.korudelta/db) says how to import it.
import { ErrorCodes } from '@koru/engine';
import { CausalStorage } from '@koru/storage';
import { FileAdapter } from '@koru/storage/node';
import { tempDir } from '@koru/vitest-preset/helpers';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function newDir(): string {
  const { dir, cleanup } = tempDir('koru-open-path-');
  cleanups.push(cleanup);
  return dir;
}

const open = (path: string) => CausalStorage.open({ adapter: new FileAdapter(path) });

describe('opening a path that is a file', () => {
  it('refuses a 1.0 database file and names the import that brings it over, leaving it unchanged', async () => {
    const file = join(newDir(), 'db');
    const v1 = JSON.stringify({ version: 1, current_state: [], history_log: [] }, null, 2);
    writeFileSync(file, v1);
    await expect(open(file)).rejects.toMatchObject({
      code: ErrorCodes.INVALID_ARGUMENT,
      message: expect.stringMatching(/KoruDelta 1\.0 database file.*kdelta -d NEW_DIR import/),
    });
    expect(readFileSync(file, 'utf8')).toBe(v1);
  });

  it('refuses any other file as not a database directory', async () => {
    const file = join(newDir(), 'notes.txt');
    writeFileSync(file, 'hello');
    await expect(open(file)).rejects.toMatchObject({
      code: ErrorCodes.INVALID_ARGUMENT,
      message: expect.stringMatching(/is a file, not a database directory/),
    });
  });

  it('still creates a directory named like a file (1.0 users passed --db-path /tmp/mydb.json)', async () => {
    const path = join(newDir(), 'mydb.json');
    const db = await open(path);
    await db.put('test', 'key', { value: 1 });
    await db.close();
    const again = await open(path);
    expect(again.get('test', 'key')).toEqual({ value: 1 });
    await again.close();
  });
});
