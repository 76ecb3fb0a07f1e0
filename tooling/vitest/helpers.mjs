// Test helpers shared by every package.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The fast-check seed for this run: KORU_SEED when set (to replay a failure),
 * else a fresh one. Printed so a failing run can always be reproduced.
 */
export function fcSeed(label = 'property') {
  const fromEnv = process.env.KORU_SEED;
  const seed = fromEnv !== undefined ? Number(fromEnv) : Math.floor(Math.random() * 0x7fffffff);
  console.log(`[seed] ${label}: ${seed} (replay with KORU_SEED=${seed})`);
  return seed;
}

/** A fresh temporary directory and a function that removes it. */
export function tempDir(prefix = 'koru-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A small deterministic PRNG (mulberry32) returning numbers in [0, 1): the same seed,
 * the same sequence, so a randomized test replays from its printed seed.
 */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleepMs = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Runs `fn` holding a machine-wide lock (a directory), so two test files never run apt-get at once. */
function withMachineLock(name, fn) {
  const lock = join(tmpdir(), `koru-${name}.lock`);
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      // A lock older than the longest install is left over from a killed run.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 15 * 60_000) rmSync(lock, { recursive: true, force: true });
      } catch {}
      if (Date.now() > deadline) throw new Error(`waited 15 minutes for ${lock}`);
      sleepMs(250);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function aptInstall(pkg) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const opts = { env, encoding: 'utf8', timeout: 10 * 60_000, stdio: ['ignore', 'pipe', 'pipe'] };
  const install = () => spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '-qq', '--no-install-recommends', pkg], opts);
  let run = install();
  if (run.status !== 0) {
    // Usually a package list that was never fetched on this machine.
    spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update', '-qq'], opts);
    run = install();
  }
  return run.status === 0 ? undefined : (run.stderr || run.stdout || `exit ${run.status}`).trim().split('\n').pop();
}

/**
 * A system program a test needs (Debian's `chromium`, `faketime`, ...). When it is missing
 * and this process may install Debian packages (root, apt-get present), it installs
 * `apt` first. Still missing: under CI=true that is an error (nothing skips in CI); else
 * the result says why in one line, for the caller to print and skip.
 *
 * @param {{ name: string, present: () => boolean, apt: string }} tool
 * @returns {{ available: true } | { available: false, reason: string }}
 */
export function systemTool({ name, present, apt }) {
  if (present()) return { available: true };
  let failure;
  const canApt = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get');
  if (canApt) {
    console.log(`[${name}] missing: installing Debian's ${apt} (once)`);
    failure = withMachineLock('apt', () => (present() ? undefined : aptInstall(apt)));
    if (present()) return { available: true };
  }
  const reason = `${name} is missing${failure ? ` and apt-get install ${apt} failed: ${failure}` : ` (install Debian's ${apt}${canApt ? '' : ' as root'})`}`;
  if (process.env.CI) throw new Error(`${reason}; under CI=true nothing skips`);
  return { available: false, reason };
}
