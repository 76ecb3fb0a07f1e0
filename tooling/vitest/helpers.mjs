// Test helpers shared by every package.
import { mkdtempSync, rmSync } from 'node:fs';
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
