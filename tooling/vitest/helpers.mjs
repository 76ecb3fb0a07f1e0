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
