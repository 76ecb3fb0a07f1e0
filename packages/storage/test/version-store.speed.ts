// Speed of the version store (a script, not a test: no thresholds). Run from packages/storage:
//   node ../../node_modules/.pnpm/tsx@*/node_modules/tsx/dist/cli.mjs test/version-store.speed.ts [keys] [versionsPerKey]
// Commits keys × versions (≈100-byte JSON values, all distinct) in batches of 1,000, then
// flushes and merges everything into one run, and reports: commit versions/s, head()/s
// from the head cache and uncached (a seek each), history versions/s (keys of 100
// versions) warm and after a fresh reopen (cold block cache), at()/s — on MemoryDirectory
// and on NodeDirectory (real files in a temp dir). Flushes and merges run inline. Times
// are CPU time of the process (a busy machine's waits left out; fsyncs' kernel work in).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LsmTree } from '../src/lsm/lsm-tree.js';
import type { StorageDirectory } from '../src/lsm/io.js';
import { InlineMergeRunner } from '../src/lsm/merge-runner.js';
import { MemoryDirectory } from '../src/lsm/memory-directory.js';
import { NodeDirectory } from '../src/node/node-directory.js';
import { VERSION_TREE_WRITER, VersionStore, type NewVersion } from '../src/version-store.js';

const KEYS = Number(process.argv[2] ?? 2_000);
const PER_KEY = Number(process.argv[3] ?? 100);

let state = 12345;
const rand = (): number => {
  state = (state * 1103515245 + 12345) >>> 0;
  return state / 2 ** 32;
};
const hex = (): string => {
  let s = '';
  for (let i = 0; i < 8; i++) s += Math.floor(rand() * 2 ** 32).toString(16).padStart(8, '0');
  return s;
};

function open(dir: StorageDirectory): LsmTree {
  return LsmTree.open({ dir, flushRunner: new InlineMergeRunner(dir), writer: VERSION_TREE_WRITER, autoMerge: true });
}

/** CPU milliseconds of this process (user + system): fairer than wall time on a busy machine. */
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function rate(label: string, n: number, unit: string, f: () => void): void {
  const t0 = cpuMs();
  f();
  const ms = cpuMs() - t0;
  console.log(`  ${label.padEnd(44)} ${Math.round((n / ms) * 1000).toLocaleString('en').padStart(12)} ${unit}/s  (${n.toLocaleString('en')} in ${ms.toFixed(0)} ms)`);
}

async function run(name: string, dir: StorageDirectory): Promise<void> {
  console.log(`${name}: ${KEYS} keys × ${PER_KEY} versions`);
  let tree = open(dir);
  let store = new VersionStore(tree);
  const keys = Array.from({ length: KEYS }, (_, i) => `doc-${String(i).padStart(8, '0')}`);
  const prev = new Map<string, string>();
  let wall = 1_700_000_000_000;
  const batches: NewVersion[][] = [];
  let batch: NewVersion[] = [];
  for (let v = 0; v < PER_KEY; v++) {
    for (const key of keys) {
      const versionId = hex();
      batch.push({
        namespace: 'bench',
        key,
        versionId,
        previousVersion: prev.get(key) ?? null,
        valueId: hex(),
        valueText: JSON.stringify({ key, v, name: `user ${key}`, tags: ['a', 'b'], score: rand() }),
        wall: wall++,
        logical: 0,
        node: 'node-1',
        deleted: false,
      });
      prev.set(key, versionId);
      if (batch.length === 1000) {
        batches.push(batch);
        batch = [];
      }
    }
  }
  if (batch.length > 0) batches.push(batch);
  const total = KEYS * PER_KEY;
  let waits = 0;
  const t0 = cpuMs();
  for (const b of batches) {
    store.commit(b);
    const w = tree.writable();
    if (w !== undefined) {
      waits++;
      await w;
    }
  }
  const commitMs = cpuMs() - t0;
  console.log(`  ${'commit (batches of 1,000, flushes inline)'.padEnd(44)} ${Math.round((total / commitMs) * 1000).toLocaleString('en').padStart(12)} versions/s  (${total.toLocaleString('en')} in ${commitMs.toFixed(0)} ms, ${waits} waits for a flush)`);
  const tc = cpuMs();
  await tree.compact();
  console.log(`  flush + compact: ${(cpuMs() - tc).toFixed(0)} ms CPU, ${(tree.diskBytes() / 1e6).toFixed(1)} MB on disk, levels ${JSON.stringify(tree.stats().levels.map((l) => l.files))}`);
  const picks = Array.from({ length: 100_000 }, () => keys[Math.floor(rand() * KEYS)]!);
  rate('head() cached', picks.length, 'gets', () => {
    for (const k of picks) store.head('bench', k);
  });
  const uncached = new VersionStore(tree, { cacheBytes: 0 });
  rate('head() uncached (a seek + decode each)', picks.length, 'gets', () => {
    for (const k of picks) uncached.head('bench', k);
  });
  const hk = keys.slice(0, Math.min(KEYS, 1000));
  rate(`history() warm (keys of ${PER_KEY} versions)`, hk.length * PER_KEY, 'versions', () => {
    for (const k of hk) store.history('bench', k);
  });
  const ats = picks.slice(0, 50_000).map((k) => [k, 1_700_000_000_000 + Math.floor(rand() * total)] as const);
  rate('at(wall) (a seek each)', ats.length, 'reads', () => {
    for (const [k, t] of ats) store.at('bench', k, t);
  });
  await tree.close();
  tree = open(dir);
  store = new VersionStore(tree);
  rate(`history() cold after reopen (keys of ${PER_KEY})`, hk.length * PER_KEY, 'versions', () => {
    for (const k of hk) store.history('bench', k);
  });
  const hk2 = keys.slice(1000, 2000);
  if (hk2.length > 0) {
    rate('head() cold after reopen', hk2.length, 'gets', () => {
      for (const k of hk2) store.head('bench', k);
    });
  }
  await tree.close();
}

await run('MemoryDirectory', new MemoryDirectory());
const path = mkdtempSync(join(tmpdir(), 'koru-vstore-speed-'));
try {
  await run(`NodeDirectory (${path})`, new NodeDirectory(path));
} finally {
  rmSync(path, { recursive: true, force: true });
}
