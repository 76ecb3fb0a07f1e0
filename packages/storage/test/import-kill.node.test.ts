// An import of a pruned database's export, killed with SIGKILL again and again: a key's
// first imported version (its predecessor cut where it was exported: `previousCut`) and
// its horizon record are one commit, so after every kill `verify` finds no key whose
// oldest version names a predecessor with no horizon, and every acknowledged version is
// there with its horizon (HISTORY_PRUNED before it). A deterministic twin: a log write
// that fails right after the version's commit (where the horizon used to be written
// apart) leaves nothing half done either.
// KORU_CRASH_CYCLES sets the number of kills (default 20 under CI=true, else 8);
// KORU_SEED replays the kill delays (the seed is printed).
import { CausalStorage, HISTORY_PRUNED, type ImportedVersion } from '@koru/storage';
import { FileAdapter } from '@koru/storage/node';
import { fcSeed, prng, tempDir } from '@koru/vitest-preset/helpers';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { manualClock } from './conformance.js';
import { copyFiles, FaultyOps } from './disk-helpers.js';
import { killWriters, runAndKill } from './kill-helpers.js';
import { T } from './retention-helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const importer = join(here, 'fixtures', 'import-writer.mjs');
const CYCLES = Number(process.env.KORU_CRASH_CYCLES ?? (process.env.CI === 'true' ? 20 : 8));

const cleanups: Array<() => void> = [];
afterEach(() => {
  killWriters();
  for (const c of cleanups.splice(0)) c();
});

function newDir(): string {
  const { dir, cleanup } = tempDir('koru-import-kill-');
  cleanups.push(cleanup);
  return dir;
}

/**
 * The export (through JSON) of a database whose every key of `cut` lost its older
 * versions to retention, and one purged key: all but the last item carry `previousCut`.
 */
async function prunedDump(keys: number): Promise<ImportedVersion[]> {
  const clock = manualClock(T);
  const s = await CausalStorage.open({ now: clock.now });
  try {
    await s.setRetention('cut', { lastVersions: 1 });
    for (let round = 0; round < 2; round++) {
      for (let k = 0; k < keys; k++) {
        clock.t += 1;
        await s.put('cut', `k${k}`, { k, round });
      }
    }
    clock.t += 1;
    await s.put('gone', 'ann', { secret: 1 });
    await s.compact();
    await s.purge('gone', 'ann');
    clock.t += 1;
    await s.put('whole', 'x', 1);
    return [...s.committed()].map((v) => JSON.parse(JSON.stringify(v)) as ImportedVersion);
  } finally {
    await s.close();
  }
}

/** Checks the directory: a clean verify, and every acknowledged item stored with its horizon. */
async function checkImported(dir: string, dump: readonly ImportedVersion[], acked: readonly number[], label: string): Promise<void> {
  const db = await CausalStorage.open({ adapter: new FileAdapter(dir) });
  try {
    expect((await db.verify()).problems, label).toEqual([]);
    for (const i of acked) {
      const it = dump[i]!;
      expect(db.history(it.namespace, it.key).map((v) => v.versionId), `${label}, item ${i}`).toContain(it.versionId);
      if (it.previousCut === undefined) continue;
      const e = (() => {
        try {
          db.getVersionById(it.namespace, it.key, it.previousVersion!);
        } catch (x) {
          return x as { code: string; details: { horizon: { versionId: string } } };
        }
        return undefined;
      })();
      expect(e?.code, `${label}, item ${i}`).toBe(HISTORY_PRUNED);
      expect(e?.details.horizon.versionId).toBe(it.versionId);
    }
  } finally {
    await db.close();
  }
}

describe('kill -9 during an import of a pruned export', () => {
  it(`leaves, through ${CYCLES} kills, no version without its horizon`, async () => {
    const rand = prng(fcSeed('import kill -9'));
    const dump = await prunedDump(4000);
    expect(dump.filter((v) => v.previousCut !== undefined).length).toBe(4001);
    const file = join(newDir(), 'dump.jsonl');
    writeFileSync(file, dump.map((v) => `${JSON.stringify(v)}\n`).join(''));
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const dir = newDir();
      const acked = await runAndKill(importer, [dir, file], 20 + Math.floor(rand() * 300));
      expect(acked.length, 'the import finished before the kill: make the dump larger').toBeLessThan(dump.length);
      await checkImported(dir, dump, acked, `cycle ${cycle}`);
    }
  }, 300_000);
});

describe('a log write failing right after an imported version commits', () => {
  it('fails nothing that was committed: the horizon was in the same batch', async () => {
    const dump = await prunedDump(3);
    const first = dump.findIndex((v) => v.previousCut !== undefined);
    const dir = newDir();
    const ops = new FaultyOps();
    const s = await CausalStorage.open({ adapter: new FileAdapter(dir, { sync: 'always', fileOps: ops }) });
    // From the moment the store accepted the commit, every log write fails: any record
    // the import wrote after the commit would be lost, as a crash there would lose it.
    const stop = s.onCommit(() => (ops.writeFault = { code: 'EIO', budget: 0, path: /\.kwal$/ }));
    const outcome = await s.importVersions([dump[first]!]).then(
      (n) => n,
      (e: unknown) => (e as { code: string }).code,
    );
    stop();
    expect(outcome).toBe(1);
    // The files as a crash right now would leave them, opened with plain file operations.
    const copy = newDir();
    copyFiles(dir, copy);
    ops.writeFault = null;
    await s.close().catch(() => {});
    await checkImported(copy, dump, [first], 'after the fault');
  });
});
