// The published shape of @koru/delta: a Node build behind the `node` condition, a
// browser-safe default whose whole module graph stays clear of Node, and a CJS build.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  type: string;
  exports: Record<string, unknown>;
  files: string[];
};
const requireHere = createRequire(join(root, 'package.json'));

type Conditions = ReadonlySet<string>;

/** Node's export-condition matching: the first key (in order) that is an active condition ("default" always is). */
function pickTarget(entry: unknown, conditions: Conditions): string | undefined {
  if (typeof entry === 'string') return entry;
  if (entry === null || typeof entry !== 'object') return undefined;
  for (const [key, value] of Object.entries(entry)) {
    if (key !== 'default' && !conditions.has(key)) continue;
    const hit = pickTarget(value, conditions);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

const BROWSER_ESM: Conditions = new Set(['browser', 'import', 'default']);
const NODE_ESM: Conditions = new Set(['node', 'import', 'default']);
const NODE_CJS: Conditions = new Set(['node', 'require', 'default']);

describe('exports map', () => {
  const dot = pkg.exports['.'] as Record<string, unknown>;

  test('has a node condition (ESM and CJS) and a browser-safe default', () => {
    expect(pkg.name).toBe('@koru/delta');
    expect(pkg.type).toBe('module');
    expect(Object.keys(dot)[0]).toBe('node');
    expect(pickTarget(dot, NODE_ESM)).toBe('./dist/node.js');
    expect(pickTarget(dot, NODE_CJS)).toBe('./dist/node.cjs');
    expect(pickTarget(dot, BROWSER_ESM)).toBe('./dist/index.js');
    expect(pickTarget(dot, new Set(['browser', 'require']))).toBe('./dist/index.cjs');
    expect(pickTarget(dot, new Set())).toBe('./dist/index.js');
    expect(pkg.exports['./package.json']).toBe('./package.json');
    expect(pkg.files).toEqual(expect.arrayContaining(['dist', 'README.md']));
  });

  test('types come first in every condition and match the module format', () => {
    const visit = (entry: unknown): void => {
      if (entry === null || typeof entry !== 'object') return;
      const keys = Object.keys(entry);
      if (keys.includes('types')) {
        expect(keys[0]).toBe('types');
        const e = entry as { types: string; default: string };
        expect(e.types.endsWith('.d.cts')).toBe(e.default.endsWith('.cjs'));
      }
      for (const v of Object.values(entry)) visit(v);
    };
    visit(dot);
    const withTypes = (c: string[]) => pickTarget(dot, new Set(['types', ...c]));
    expect(withTypes(['node', 'import'])).toBe('./dist/node.d.ts');
    expect(withTypes(['node', 'require'])).toBe('./dist/node.d.cts');
    expect(withTypes(['import'])).toBe('./dist/index.d.ts');
    expect(withTypes(['require'])).toBe('./dist/index.d.cts');
  });

  test('every target exists in dist', () => {
    const targets = new Set<string>();
    const collect = (e: unknown): void => {
      if (typeof e === 'string') targets.add(e);
      else if (e !== null && typeof e === 'object') Object.values(e).forEach(collect);
    };
    collect(pkg.exports);
    for (const t of targets) expect(existsSync(join(root, t)), t).toBe(true);
  });

  test('the package name resolves to the Node builds under Node', () => {
    expect(requireHere.resolve('@koru/delta')).toBe(join(root, 'dist/node.cjs'));
    expect(fileURLToPath(import.meta.resolve('@koru/delta'))).toBe(join(root, 'dist/node.js'));
  });
});

/** Relative and bare specifiers a built ES module imports (static and dynamic). */
function importsOf(code: string): string[] {
  const out: string[] = [];
  const re = /(?:^|[;\s}])(?:import|export)\s*(?:[\w*{}\s,$]*?\s*from\s*)?["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)|require\s*\(\s*["']([^"']+)["']\s*\)/g;
  for (const m of code.matchAll(re)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

/** Strips comments so a word in a doc comment is not mistaken for code. */
function codeOnly(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:"'`\\])\/\/.*$/gm, '$1');
}

/** Every file of the browser entry's module graph, following @koru/* packages by their browser conditions. */
function browserGraph(entry: string): Map<string, string> {
  const files = new Map<string, string>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (files.has(file)) continue;
    const code = readFileSync(file, 'utf8');
    files.set(file, code);
    for (const spec of importsOf(code)) {
      if (spec.startsWith('.')) pending.push(resolve(dirname(file), spec));
      else if (spec.startsWith('@koru/')) {
        const [scope, name, ...sub] = spec.split('/');
        const pkgJson = requireHere.resolve(`${scope}/${name}/package.json`);
        const dep = JSON.parse(readFileSync(pkgJson, 'utf8')) as { exports: Record<string, unknown> };
        const target = pickTarget(dep.exports[sub.length > 0 ? `./${sub.join('/')}` : '.'], BROWSER_ESM);
        expect(target, `${spec} has a browser/default ESM target`).toBeDefined();
        pending.push(join(dirname(pkgJson), target!));
      } else files.set(`bare:${spec}`, '');
    }
  }
  return files;
}

describe('browser entry', () => {
  const graph = browserGraph(join(root, 'dist/index.js'));

  test('its module graph holds the delta chunks and the browser entries of @koru/engine and @koru/storage', () => {
    const names = [...graph.keys()];
    expect(names.some((f) => /delta\/dist\/chunk-\w+\.js$/.test(f))).toBe(true);
    expect(names.some((f) => /storage\/dist\/index\.js$/.test(f))).toBe(true);
    expect(names.some((f) => /engine\/dist\/index\.js$/.test(f))).toBe(true);
    expect(names.filter((f) => /\/node\.(c?js)$/.test(f))).toEqual([]);
    // Third-party imports are browser-safe libraries only.
    for (const f of names.filter((n) => n.startsWith('bare:'))) expect(f).toMatch(/^bare:@noble\/hashes/);
  });

  test('no file of it imports node: modules or uses Buffer or process', () => {
    for (const [file, source] of graph) {
      if (file.startsWith('bare:')) continue;
      const code = codeOnly(source);
      expect(importsOf(code).filter((s) => s.startsWith('node:') || ['fs', 'path', 'os', 'crypto', 'zlib', 'child_process'].includes(s)), file).toEqual([]);
      expect(code, file).not.toMatch(/\bBuffer\b/);
      expect(code, file).not.toMatch(/\bprocess\s*\./);
      expect(code, file).not.toMatch(/\brequire\s*\(/);
    }
  });

  test('start({ path }) from the browser entry fails with UNSUPPORTED; in-memory works', () => {
    // A fresh process, so the Node entry has certainly not registered the durable adapter.
    const script = `
      const { KoruDelta, KoruError } = await import(${JSON.stringify(pathToFileURL(join(root, 'dist/index.js')).href)});
      const out = {};
      try { await KoruDelta.start({ path: './never-created' }); out.durable = 'opened'; }
      catch (e) { out.durable = { isKoru: e instanceof KoruError, code: e.code, message: e.message }; }
      const db = await KoruDelta.start();
      await db.put('ns', 'k', { ok: true });
      out.memory = await db.get('ns', 'k');
      await db.close();
      console.log(JSON.stringify(out));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { durable: { isKoru: boolean; code: string; message: string }; memory: unknown };
    expect(out.durable).toMatchObject({ isKoru: true, code: 'UNSUPPORTED' });
    expect(out.durable.message).toMatch(/browser|Node/);
    expect(out.memory).toEqual({ ok: true });
    expect(existsSync(join(root, 'never-created'))).toBe(false);
  });
});

describe('CommonJS build', () => {
  test('loads with require and starts an in-memory database', async () => {
    const cjs = requireHere('@koru/delta') as typeof import('@koru/delta');
    expect(typeof cjs.KoruDelta.start).toBe('function');
    const db = await cjs.KoruDelta.start();
    try {
      const v = await db.put('cjs', 'k', { from: 'require' });
      expect(v.versionId).toMatch(/^[0-9a-f]{64}$/);
      expect(await db.get('cjs', 'k')).toEqual({ from: 'require' });
      const e = await db.get('cjs', 'missing').catch((x: unknown) => x);
      expect(e).toBeInstanceOf(cjs.KoruError);
      expect((e as { code: string }).code).toBe('KEY_NOT_FOUND');
    } finally {
      await db.close();
    }
  });

  test('the CJS browser build loads too and refuses durable databases in a fresh process', () => {
    const script = `
      const { KoruDelta } = require(${JSON.stringify(join(root, 'dist/index.cjs'))});
      KoruDelta.start({ path: './never' }).then(() => console.log('opened'), (e) => console.log(e.code));
    `;
    const r = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('UNSUPPORTED');
  });
});
