// kdelta export against a server (--url): one streamed request (GET /v1/export) whose
// lines carry `previousCut` where retention or a purge cut a key's history, so
// `kdelta --url URL export | kdelta -d ./copy import -` of a pruned database gives a copy
// with the same histories that verifies clean; of one namespace, and to a file, too.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KoruDelta } from '@koru/delta';
import { afterEach, describe, expect, it } from 'vitest';
import { freshDatabase, kdelta, serveDatabase } from './run.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** Fills `path` with a key cut by retention (merged at once), a purged key, an index and an uncut key. */
async function prunedDatabase(path: string): Promise<void> {
  const db = await KoruDelta.start({ path });
  try {
    await db.setRetention('logs', { lastVersions: 2 });
    for (let i = 0; i < 5; i++) await db.put('logs', 'a', { i });
    await db.put('users', 'ann', { ssn: '1' });
    await db.put('users', 'ann', { ssn: '2' });
    await db.put('users', 'bob', { ssn: '3' });
    await db.createIndex('users', 'ssn');
    await db.compact();
    await db.purge('users', 'ann');
  } finally {
    await db.close();
  }
}

describe('kdelta --url URL export | kdelta -d copy import -', () => {
  it('copies a pruned database from a server: same histories, horizons, a clean verify', async () => {
    const src = freshDatabase(cleanups);
    const dst = freshDatabase(cleanups);
    await prunedDatabase(join(src.dir, 'db'));
    const { url, stop } = await serveDatabase(join(src.dir, 'db'), src.dir);
    try {
      const remote = (...args: string[]) => kdelta(['--url', url, ...args], { cwd: src.dir });
      const dump = await remote('export');
      expect(dump.code, dump.stderr).toBe(0);
      const lines = dump.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { namespace: string; key: string; previousCut?: { purged: boolean } });
      // Where each history was cut, and the index definition, travel with the versions.
      expect(lines.filter((v) => v.previousCut !== undefined).map((v) => `${v.namespace}/${v.key}:${String(v.previousCut!.purged)}`)).toEqual(['logs/a:false', 'users/ann:true']);
      expect(lines.some((v) => v.namespace === '_koru')).toBe(true);
      const imported = await dst.kIn(dump.stdout, 'import', '-');
      expect(imported.code, imported.stderr).toBe(0);
      const verify = await dst.k('verify');
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      for (const target of ['logs/a', 'users/ann', 'users/bob']) expect((await dst.k('log', target, '--json')).stdout).toBe((await remote('log', target, '--json')).stdout);
      // One namespace, to a file: the same lines as that namespace's part of the whole.
      const file = await remote('export', 'logs', '-o', 'logs.jsonl');
      expect(file.code, file.stderr).toBe(0);
      expect(file.stdout).toBe('exported 2 versions to logs.jsonl\n');
      expect(readFileSync(join(src.dir, 'logs.jsonl'), 'utf8')).toBe(dump.stdout.split('\n').filter((l) => l.startsWith('{"namespace":"logs"')).map((l) => `${l}\n`).join(''));
      // A namespace the server refuses: one line on stderr, nothing exported.
      const bad = await remote('export', '_koru');
      expect(bad.code).not.toBe(0);
      expect(bad.stdout).toBe('');
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      await stop();
    }
  });
});
