// kill -9 while a store receives and installs a checkpoint, in a child process running the
// built package (test/fixtures/checkpoint-install.mjs): after every kill the joiner's
// directory opens, and holds either nothing (the received files are deleted) or exactly
// the donor's versions. Kill delays are spread over the child's measured run, and every
// other one lands within a few ms of the install's start.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fcSeed, prng, tempDir } from '@koru/vitest-preset/helpers';
import { CausalStorage } from '@koru/storage';
import { FileAdapter } from '@koru/storage/node';
import { afterEach, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const script = join(here, 'fixtures', 'checkpoint-install.mjs');
const CYCLES = process.env.CI ? 16 : 8;
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function newDir(): string {
  const { dir, cleanup } = tempDir('koru-ckpt-kill-');
  cleanups.push(cleanup);
  return dir;
}

/**
 * Runs the child; kills it `killAfter` ms after `ready` — or after `received` (the
 * install under way) with `inInstall` (undefined: lets it finish and returns how long it ran).
 */
async function run(donor: string, joiner: string, killAfter?: number, inInstall = false): Promise<number> {
  const child = spawn(process.execPath, [script, donor, joiner], { cwd: join(here, '..'), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (c: string) => (out += c));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (!out.includes('ready\n') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  if (!out.includes('ready\n')) throw new Error(`the child did not start: ${err}`);
  const t0 = performance.now();
  if (killAfter !== undefined) {
    if (inInstall) while (!out.includes('received\n') && child.exitCode === null) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, killAfter));
    child.kill('SIGKILL');
    await exit;
    return performance.now() - t0;
  }
  expect(await exit, err).toBe(0);
  expect(out).toContain('installed\n');
  return performance.now() - t0;
}

describe('kill -9 during a checkpoint install', () => {
  it('leaves the empty store or the installed one, and either opens', async () => {
    const seed = fcSeed();
    const rand = prng(seed);
    const donorDir = newDir();
    const donor = await CausalStorage.open({ adapter: new FileAdapter(donorDir, { memtableBytes: 256 * 1024, keepLogBytes: 0 }) });
    for (let i = 0; i < 6_000; i += 100) {
      await donor.putMany(Array.from({ length: 100 }, (_, j) => ({ namespace: `ns${j % 4}`, key: `k${(i + j) % 4_000}`, value: { i, j, pad: 'p'.repeat(200) } })));
    }
    const expected = [...donor.committedJson()];
    await donor.close();

    // A calibration run: how long the whole copy takes.
    const full = await run(donorDir, newDir());
    const outcomes = { empty: 0, installed: 0 };
    for (let c = 0; c < CYCLES; c++) {
      const joinDir = newDir();
      // Every other kill aimed at the install itself (up to 40 ms after the last file arrived).
      if (c % 2 === 1) await run(donorDir, joinDir, rand() * 40, true);
      else await run(donorDir, joinDir, rand() * full * 1.1);
      const s = await CausalStorage.open({ adapter: new FileAdapter(joinDir) });
      try {
        if (s.seq === 0) {
          outcomes.empty++;
          expect(fs.readdirSync(joinDir).filter((n) => n.endsWith('.kseg'))).toEqual([]);
          await s.put('n', 'k', 1); // an empty store that works
        } else {
          outcomes.installed++;
          expect([...s.committedJson()]).toEqual(expected);
          expect((await s.verify()).ok).toBe(true);
        }
      } finally {
        await s.close();
      }
    }
    expect(outcomes.empty + outcomes.installed).toBe(CYCLES);
  }, 120_000);
});
