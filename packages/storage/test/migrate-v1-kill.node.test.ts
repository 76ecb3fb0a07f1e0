// kill -9 during the conversion of a v1 database (~20k versions) to the v2 format, in a
// child process running the built package (test/fixtures/migrate-v1.mjs): after every
// kill the directory is either still the v1 database, reading back exactly as it was
// (the next run converts it from scratch), or the committed v2 one, which the next call
// finishes cleaning and which holds every version. Kill delays are drawn from the
// conversion's measured timeline (a calibration run watches when MANIFEST appears and when
// the v1 files are gone); a third are aimed at its short last phases by watching the
// directory (the first segment moved in, MANIFEST moved in), so kills land in every
// phase: building, moving, cleanup.
import { canonicalJson } from '@koru/engine';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fcSeed, prng, tempDir } from '@koru/vitest-preset/helpers';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateV1, MIGRATION_DIR } from '../src/node/migrate-v1.js';
import { expectedJson, expectStoreHolds, expectV1Holds, withStore } from './migrate-helpers.js';
import { randomInputs, versionsOf, writeV1, type V1TestVersion } from './v1-writer.js';

const here = dirname(fileURLToPath(import.meta.url));
const script = join(here, 'fixtures', 'migrate-v1.mjs');
const CYCLES = process.env.CI ? 50 : 10;
const VERSIONS = 20_000;
const NODES = ['00000000000000aa', '00000000000000bb'] as const;
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** Where one run of the child stood, in ms after it printed `ready`. */
interface Timeline {
  /** MANIFEST first seen in the directory (the commit). */
  commit: number;
  /** The snapshot first seen gone (the cleanup under way), and the exit. */
  cleaned: number;
  exit: number;
}

/** When to kill the child: `after` ms after `ready`, or that long after a file shows up in the directory. */
type Kill = { readonly after: number; readonly when?: (names: readonly string[]) => boolean };

/**
 * Runs the child on `dir`. With `kill`, SIGKILLs it as that says; else watches the
 * directory until it exits and returns when things happened.
 */
async function run(dir: string, kill?: Kill): Promise<Timeline | undefined> {
  const child = spawn(process.execPath, [script, dir], { cwd: join(here, '..'), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (c: string) => (out += c));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  let exited = false;
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => ((exited = true), resolve(code))));
  const deadline = Date.now() + 20_000;
  while (!out.includes('ready\n') && !exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  if (!out.includes('ready\n')) throw new Error(`the child did not start: ${err}`);
  const t0 = performance.now();
  // The directory is polled every millisecond or so, not in a busy loop: the child must
  // run as fast as it does unwatched (on two cores, a spinning parent slowed it by a fifth).
  const tick = () => new Promise((r) => setTimeout(r, 1));
  if (kill !== undefined) {
    if (kill.when !== undefined) while (!exited && !kill.when(fs.readdirSync(dir))) await tick();
    if (kill.after > 0) await new Promise((r) => setTimeout(r, kill.after));
    child.kill('SIGKILL');
    await exit;
    return undefined;
  }
  const manifest = join(dir, 'MANIFEST');
  const snapshot = join(dir, 'snapshot-000001.kds');
  const t: Timeline = { commit: -1, cleaned: -1, exit: -1 };
  while (!exited) {
    const now = performance.now() - t0;
    if (t.commit < 0 && fs.existsSync(manifest)) t.commit = now;
    if (t.cleaned < 0 && !fs.existsSync(snapshot)) t.cleaned = now;
    await tick();
  }
  t.exit = performance.now() - t0;
  expect(await exit, err).toBe(0);
  return t;
}

type Phase = 'v1 untouched' | 'building' | 'moving' | 'cleanup' | 'done';

/** Which phase a kill stopped the conversion in, from what it left in `dir`. */
function phaseOf(dir: string): Phase {
  const names = fs.readdirSync(dir);
  const v1 = names.some((n) => /^(snapshot-\d{6}\.kds|log-\d{6}\.kdl|SYNCED)$/.test(n));
  if (names.includes('MANIFEST')) return v1 || names.includes(MIGRATION_DIR) ? 'cleanup' : 'done';
  if (names.some((n) => n.endsWith('.kseg'))) return 'moving';
  return names.includes(MIGRATION_DIR) ? 'building' : 'v1 untouched';
}

/** Checks, through the change feed, that the v2 store in `dir` holds exactly `versions`. */
async function expectConverted(dir: string, versions: readonly V1TestVersion[]): Promise<void> {
  await withStore(dir, (store) => {
    expect(store.seq).toBe(versions.length);
    let i = 0;
    const wantJson = expectedJson(versions);
    for (const v of store.committed(1, versions.length)) {
      const { namespace, key, versionId, previousVersion, valueId, hlc, node, deleted } = v;
      const got = { namespace, key, versionId, previousVersion, valueId, hlc, node, deleted, valueText: deleted ? null : canonicalJson(v.value) };
      // One expect per mismatch only (20k toEqual calls would dominate the test).
      if (JSON.stringify(got) !== wantJson[i]) expect(got, `change ${i + 1}`).toEqual(JSON.parse(wantJson[i]!));
      i++;
    }
    expect(i).toBe(versions.length);
  });
}

describe('migrateV1 under kill -9', () => {
  it(`leaves the v1 database or the converted one through ${CYCLES} kills`, async () => {
    const seed = fcSeed('migrate kill -9');
    const rand = prng(seed);
    const { dir: root, cleanup } = tempDir('koru-migrate-kill-');
    cleanups.push(cleanup);
    const template = join(root, 'template');
    const versions = versionsOf(randomInputs(VERSIONS, 2000, prng(seed ^ 0x5eed), NODES));
    writeV1(template, NODES[0], versions, 15_000, 10);
    expectV1Holds(template, versions);
    const v1Names = fs.readdirSync(template);
    const dir = join(root, 'db');
    const fresh = () => {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.cpSync(template, dir, { recursive: true });
    };
    // Calibration: an uncut run, timed.
    fresh();
    const t = (await run(dir))!;
    console.log(`[migrate kill -9] conversion of ${VERSIONS} versions: commit after ${t.commit.toFixed(0)} ms, v1 gone after ${t.cleaned.toFixed(0)} ms, exit after ${t.exit.toFixed(0)} ms`);
    expect(0 < t.commit && t.commit <= t.cleaned && t.cleaned <= t.exit).toBe(true);
    await expectConverted(dir, versions);

    const phases = new Map<Phase, number>();
    let runs = 0;
    let checks = 0;
    fresh();
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      // Two thirds of the kills anywhere in the measured conversion time; the rest aimed
      // at its short last phases: once the first segment is moved in (the move), or once
      // MANIFEST is (the cleanup after the commit: at once, or after a random part of the
      // measured time from the commit to the exit).
      // The first two kills are placed, so that both outcomes are checked whatever the
      // dice say (with 10 cycles, none of the random ones may reach the commit): one right
      // after MANIFEST is written (committed: the cleanup), one at once (nothing done).
      const r = rand();
      const kill: Kill =
        cycle === 0
          ? { after: 0, when: (names) => names.includes('MANIFEST') }
          : cycle === 1
            ? { after: 0 }
            : r < 2 / 3
              ? { after: rand() * t.exit }
              : r < 5 / 6
                ? { after: 0, when: (names) => names.some((n) => n.endsWith('.kseg')) }
                : { after: rand() < 0.5 ? 0 : rand() * (t.exit - t.commit), when: (names) => names.includes('MANIFEST') };
      const started = performance.now();
      await run(dir, kill);
      runs += performance.now() - started;
      const checking = performance.now();
      const phase = phaseOf(dir);
      phases.set(phase, (phases.get(phase) ?? 0) + 1);
      if (phase === 'cleanup' || phase === 'done') {
        // Committed: the next call finishes the cleanup, and the store holds everything.
        expect(await migrateV1(dir, {}), `cycle ${cycle} (${phase})`).toBeUndefined();
        expect(phaseOf(dir)).toBe('done');
        await expectConverted(dir, versions);
        fresh();
      } else {
        // Not committed: the v1 files are byte for byte the template's (which reads back
        // exactly as written: checked before the first cycle), and every tenth time they
        // are read back in full too; the next cycle converts them again.
        for (const name of v1Names) expect(fs.readFileSync(join(dir, name)).equals(fs.readFileSync(join(template, name))), `cycle ${cycle}: ${name}`).toBe(true);
        if (cycle % 10 === 0) expectV1Holds(dir, versions);
      }
      checks += performance.now() - checking;
    }
    console.log(`[migrate kill -9] phases the kills stopped: ${JSON.stringify(Object.fromEntries(phases))} (runs ${runs.toFixed(0)} ms, checks ${checks.toFixed(0)} ms)`);
    // Finally converted, and equal.
    if (phaseOf(dir) !== 'done') await migrateV1(dir, {});
    expect(phaseOf(dir)).toBe('done');
    await expectStoreHolds(dir, versions);
    expect((phases.get('cleanup') ?? 0) + (phases.get('done') ?? 0)).toBeGreaterThan(0);
    expect((phases.get('building') ?? 0) + (phases.get('v1 untouched') ?? 0)).toBeGreaterThan(0);
    // With 50 cycles, about eight kills are aimed at the cleanup: some must land there.
    if (CYCLES >= 50) expect(phases.get('cleanup') ?? 0).toBeGreaterThan(0);
  }, 240_000);
});
