// Speed of converting a v1 database to the v2 format (a script, not a test: no
// thresholds). Run from packages/storage:
//   node ../../node_modules/.pnpm/tsx@*/node_modules/tsx/dist/cli.mjs test/migrate-v1.speed.ts [versions] [keys]
// Writes a v1 directory with the test-only v1 writer (randomInputs: ~200-byte JSON values,
// 3% over 1 KiB, many identical; 80% of the versions in the snapshot, the rest in the log),
// converts it with migrateV1 (real files in a temp dir, fsyncs included) and reports
// versions/s, the report's counts, and the v1 and v2 sizes on disk.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prng } from '@koru/vitest-preset/helpers';
import { migrateV1 } from '../src/node/migrate-v1.js';
import { randomInputs, versionsOf, writeV1 } from './v1-writer.js';

const N = Number(process.argv[2] ?? 100_000);
const KEYS = Number(process.argv[3] ?? 10_000);
const bytesOf = (dir: string) => readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
const root = mkdtempSync(join(tmpdir(), 'koru-migrate-speed-'));
try {
  const versions = versionsOf(randomInputs(N, KEYS, prng(42), ['00000000000000aa', '00000000000000bb']));
  const dir = join(root, 'db');
  writeV1(dir, '00000000000000aa', versions, Math.floor(N * 0.8), 10);
  const v1Bytes = bytesOf(dir);
  const cpu = process.cpuUsage();
  const t = performance.now();
  const report = await migrateV1(dir, {});
  const ms = performance.now() - t;
  const used = process.cpuUsage(cpu);
  console.log(`${N} versions, ${KEYS} keys: converted in ${ms.toFixed(0)} ms wall (${((used.user + used.system) / 1000).toFixed(0)} ms CPU): ${Math.round(N / (ms / 1000))} versions/s`);
  console.log(`report: versions ${report?.versions}, keys ${report?.keys}, values ${report?.values}; v1 ${(v1Bytes / 1e6).toFixed(1)} MB → v2 ${(bytesOf(dir) / 1e6).toFixed(1)} MB`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
