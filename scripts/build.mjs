// Builds a workspace package and everything it depends on, quietly: nothing is printed
// unless something is built (one line) or the build fails (the build's own output).
// Used by the root scripts `start`, `kdelta` and `demo`, so a new user sees the program's
// output and not turbo's banner.
//
//   node scripts/build.mjs kdelta            build kdelta and its dependencies if stale
//   import { ensureBuilt } from './build.mjs'
//
// A package is fresh when its dist/ is newer than every file of its src/ and its build
// settings; then turbo is not even started (it costs about a second). When anything is
// stale, turbo builds the whole chain and its content hashes decide what really rebuilds.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const GROUPS = ['packages', 'apps', 'tooling', 'examples'];
const SETTINGS = ['package.json', 'tsconfig.json', 'tsup.config.ts'];

/** name → { dir, manifest } for every workspace package. */
function workspacePackages() {
  const found = new Map();
  for (const group of GROUPS) {
    const base = join(ROOT, group);
    if (!existsSync(base)) continue;
    for (const entry of readdirSync(base)) {
      const file = join(base, entry, 'package.json');
      if (!existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, 'utf8'));
      found.set(manifest.name, { dir: join(base, entry), manifest });
    }
  }
  return found;
}

/** `name` and every workspace package it depends on at run time. */
function closure(name, all) {
  const seen = new Set();
  const visit = (n) => {
    if (seen.has(n) || !all.has(n)) return;
    seen.add(n);
    const deps = all.get(n).manifest.dependencies ?? {};
    for (const [dep, spec] of Object.entries(deps)) if (String(spec).startsWith('workspace:')) visit(dep);
  };
  visit(name);
  return [...seen].map((n) => all.get(n));
}

/** Newest (or oldest) modification time under `path`, in ms; undefined when absent. */
function mtimes(path, pick) {
  if (!existsSync(path)) return undefined;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let best;
  for (const entry of readdirSync(path)) {
    const t = mtimes(join(path, entry), pick);
    if (t !== undefined) best = best === undefined ? t : pick(best, t);
  }
  return best;
}

function isFresh({ dir, manifest }) {
  if (!manifest.scripts?.build) return true;
  const built = mtimes(join(dir, 'dist'), Math.min);
  if (built === undefined) return false;
  const inputs = [join(dir, 'src'), ...SETTINGS.map((f) => join(dir, f))];
  return inputs.every((p) => (mtimes(p, Math.max) ?? 0) <= built);
}

/**
 * Builds `name` and its workspace dependencies unless all are fresh. Prints one line to
 * stderr when it builds; on failure prints the build's output and exits with its status.
 */
export function ensureBuilt(name, label = name) {
  const all = workspacePackages();
  if (!all.has(name)) throw new Error(`scripts/build.mjs: no workspace package named ${name}`);
  if (closure(name, all).every(isFresh)) return;
  const turbo = join(ROOT, 'node_modules', '.bin', 'turbo');
  if (!existsSync(turbo)) {
    process.stderr.write(`${label}: dependencies are not installed; run \`npx --yes pnpm@12.4.2 install\` first\n`);
    process.exit(1);
  }
  process.stderr.write(`${label}: building ${name} and what it uses (only when its sources changed)…\n`);
  const run = spawnSync(turbo, ['run', 'build', `--filter=${name}...`, '--output-logs=errors-only'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', TURBO_NO_UPDATE_NOTIFIER: '1' },
  });
  if (run.status !== 0) {
    process.stderr.write(run.stdout + run.stderr);
    process.stderr.write(`${label}: the build failed (output above)\n`);
    process.exit(run.status ?? 1);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const name = process.argv[2];
  if (!name) {
    process.stderr.write('usage: node scripts/build.mjs <workspace package>\n');
    process.exit(2);
  }
  ensureBuilt(name);
}
