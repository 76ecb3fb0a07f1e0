// Helpers for the package-shape tests (`package.node.test.ts`): reading a package's
// manifest, running its build under plain Node, and reading the built files (the
// imports they make, the files they pull in, the export targets they resolve to).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package directory of a test file one level below it (`<pkg>/test/x.test.ts`, `<pkg>/src/x.test.ts`). */
export function packageDirOf(testFileUrl) {
  return resolve(dirname(fileURLToPath(testFileUrl)), '..');
}

/** The package's package.json, parsed. */
export function readPackageJson(pkgDir) {
  return JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
}

/**
 * Throws unless `dist/` is built and newer than everything it is built from: the
 * package's `src/**` (tests excepted), its tsup.config.ts and the shared tsup settings.
 */
export function requireFreshBuild(pkgDir) {
  const dist = join(pkgDir, 'dist');
  if (!existsSync(join(dist, 'index.js'))) {
    const { name } = readPackageJson(pkgDir);
    throw new Error(`dist/ is missing: build first (\`pnpm --filter ${name} build\`; turbo \`test\` does it)`);
  }
  const built = statSync(join(dist, 'index.js')).mtimeMs;
  const sources = [join(pkgDir, 'tsup.config.ts')];
  try {
    sources.push(createRequire(join(pkgDir, 'package.json')).resolve('@koru/tsconfig/tsup.mjs'));
  } catch {
    // The package does not use the shared tsup settings.
  }
  const walk = (dir) => {
    for (const f of readdirSync(dir, { withFileTypes: true })) {
      if (f.isDirectory()) walk(join(dir, f.name));
      else if (f.name.endsWith('.ts') && !f.name.endsWith('.test.ts') && !f.name.endsWith('.d.ts')) sources.push(join(dir, f.name));
    }
  };
  walk(join(pkgDir, 'src'));
  const stale = sources.filter((f) => statSync(f).mtimeMs > built);
  if (stale.length > 0) throw new Error(`dist/ is older than ${stale.join(', ')}: rebuild before testing the package`);
}

/** Runs Node (this process's binary) with `args` in `cwd` and returns its trimmed stdout; throws when it fails. */
export function runNode(cwd, args) {
  return execFileSync(process.execPath, args, { cwd, encoding: 'utf8' }).trim();
}

/** Runs Node with `args` in `cwd` and returns its exit status, stdout and stderr (never throws). */
export function spawnNode(cwd, args, { timeout = 30_000 } = {}) {
  return spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout });
}

const SPECIFIER_PATTERNS = [
  // Not the end of a string literal such as 'from' (then a quote follows a word "from").
  /(?<!["'`\w$.])from\s*["']([^"']+)["']/g,
  /\bimport\s*["']([^"']+)["']/g,
  /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  /\brequire\s*\(\s*["']([^"']+)["']\s*\)/g,
];

/** Import/require specifiers in built code: static and dynamic imports, re-exports and require() calls. */
export function specifiers(code) {
  const found = [];
  for (const re of SPECIFIER_PATTERNS) for (const m of code.matchAll(re)) found.push(m[1]);
  return found;
}

/** Node's built-in modules, bare (`fs`) and prefixed (`node:fs`). */
export const nodeBuiltins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** The specifiers in `code` that name Node built-ins, with or without the `node:` prefix. */
export function nodeImports(code) {
  return specifiers(code).filter((s) => s.startsWith('node:') || nodeBuiltins.has(s));
}

/** The code without its comments, so a word in a doc comment is not mistaken for code. */
export function codeOnly(source) {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:"'`\\])\/\/.*$/gm, '$1');
}

/**
 * A built file and every file it imports, transitively, as a map from path to code.
 * Relative imports are followed (from a `.d.ts` entry, `./x.js` is read as `./x.d.ts`).
 * Bare imports are left out unless `options.bare` is given: it gets each bare
 * specifier and returns the file to follow, or undefined to record the specifier as
 * `bare:<specifier>` (with empty code).
 */
export function moduleGraph(entry, options = {}) {
  const files = new Map();
  const declarations = entry.endsWith('.d.ts');
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop();
    if (files.has(file)) continue;
    const code = readFileSync(file, 'utf8');
    files.set(file, code);
    for (const s of specifiers(code)) {
      if (s.startsWith('.')) pending.push(resolve(dirname(file), declarations ? s.replace(/\.js$/, '.d.ts') : s));
      else if (options.bare) {
        const target = options.bare(s);
        if (target !== undefined) pending.push(target);
        else files.set(`bare:${s}`, '');
      }
    }
  }
  return files;
}

/**
 * The target an exports-map entry picks for the active `conditions`, as Node and
 * TypeScript pick it: the first key (in order) that is active wins, `default` always is;
 * a nested entry with no match falls through to the next key.
 */
export function pickExport(target, conditions) {
  const active = conditions instanceof Set ? conditions : new Set(conditions);
  if (typeof target === 'string') return target;
  if (typeof target !== 'object' || target === null) return undefined;
  for (const [key, next] of Object.entries(target)) {
    if (key !== 'default' && !active.has(key)) continue;
    const found = pickExport(next, active);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Problems with the `types` entries of an exports map: a `types` key that is not first in
 * its condition object, or whose declaration format (`.d.ts` / `.d.cts`) does not match
 * the condition's `default` (`.js` / `.cjs`). Empty when every entry is right.
 */
export function typesProblems(entry, where = 'exports') {
  if (entry === null || typeof entry !== 'object') return [];
  const problems = [];
  const keys = Object.keys(entry);
  if (keys.includes('types')) {
    if (keys[0] !== 'types') problems.push(`${where}: types is not the first key`);
    if (entry.types.endsWith('.d.cts') !== String(entry.default).endsWith('.cjs')) problems.push(`${where}: ${entry.types} does not match ${entry.default}`);
  }
  for (const [k, v] of Object.entries(entry)) problems.push(...typesProblems(v, `${where}.${k}`));
  return problems;
}

/** Every file path an exports map points at. */
export function exportTargets(entry) {
  if (typeof entry === 'string') return [entry];
  if (entry === null || typeof entry !== 'object') return [];
  return [...new Set(Object.values(entry).flatMap(exportTargets))];
}

/**
 * The file a package specifier (`@scope/name`, `@scope/name/sub`, `name/sub`) resolves
 * to under `conditions`, read from that package's exports map, with the package found
 * from `fromDir`; undefined when no target matches.
 */
export function resolveExport(fromDir, specifier, conditions) {
  const parts = specifier.split('/');
  const nameParts = specifier.startsWith('@') ? 2 : 1;
  const name = parts.slice(0, nameParts).join('/');
  const sub = parts.slice(nameParts);
  const pkgJson = createRequire(join(fromDir, 'package.json')).resolve(`${name}/package.json`);
  const { exports } = JSON.parse(readFileSync(pkgJson, 'utf8'));
  const target = pickExport(exports?.[sub.length > 0 ? `./${sub.join('/')}` : '.'], conditions);
  return target === undefined ? undefined : join(dirname(pkgJson), target);
}
