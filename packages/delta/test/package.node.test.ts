// The published shape of @koru/delta: a Node build behind the `node` condition, a
// browser-safe default whose whole module graph stays clear of Node, and a CJS build.
import { codeOnly, moduleGraph, nodeImports, packageDirOf, pickExport, readPackageJson, resolveExport, spawnNode, specifiers, exportTargets, typesProblems } from '@koru/vitest-preset/package-checks';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';

const root = packageDirOf(import.meta.url);
const pkg = readPackageJson(root);
const requireHere = createRequire(join(root, 'package.json'));

type Conditions = ReadonlySet<string>;

const BROWSER_ESM: Conditions = new Set(['browser', 'import', 'default']);
const NODE_ESM: Conditions = new Set(['node', 'import', 'default']);
const NODE_CJS: Conditions = new Set(['node', 'require', 'default']);

describe('exports map', () => {
  const dot = pkg.exports['.'] as Record<string, unknown>;

  test('has a node condition (ESM and CJS), a browser condition (ESM) and a browser-safe default', () => {
    expect(pkg.name).toBe('@koru/delta');
    expect(pkg.type).toBe('module');
    expect(Object.keys(dot)[0]).toBe('node');
    expect(pickExport(dot, NODE_ESM)).toBe('./dist/node.js');
    expect(pickExport(dot, NODE_CJS)).toBe('./dist/node.cjs');
    // Browser bundlers take the browser build (shared persistent databases in a worker);
    // a CommonJS require under the browser condition gets the browser-safe default.
    expect(pickExport(dot, BROWSER_ESM)).toBe('./dist/browser.js');
    expect(pickExport(dot, new Set(['browser', 'require']))).toBe('./dist/index.cjs');
    expect(pickExport(dot, new Set(['import', 'default']))).toBe('./dist/index.js');
    expect(pkg.exports['./browser-worker.js']).toBe('./dist/browser-worker.js');
    expect(pickExport(dot, new Set())).toBe('./dist/index.js');
    expect(pkg.exports['./package.json']).toBe('./package.json');
    expect(pkg.files).toEqual(expect.arrayContaining(['dist', 'README.md']));
  });

  test('types come first in every condition and match the module format', () => {
    expect(typesProblems(dot)).toEqual([]);
    const withTypes = (c: string[]) => pickExport(dot, new Set(['types', ...c]));
    expect(withTypes(['node', 'import'])).toBe('./dist/node.d.ts');
    expect(withTypes(['node', 'require'])).toBe('./dist/node.d.cts');
    expect(withTypes(['import'])).toBe('./dist/index.d.ts');
    expect(withTypes(['browser', 'import'])).toBe('./dist/browser.d.ts');
    expect(withTypes(['require'])).toBe('./dist/index.d.cts');
  });

  test('every target exists in dist', () => {
    for (const t of exportTargets(pkg.exports)) expect(existsSync(join(root, t)), t).toBe(true);
  });

  test('the package name resolves to the Node builds under Node', () => {
    expect(requireHere.resolve('@koru/delta')).toBe(join(root, 'dist/node.cjs'));
    expect(fileURLToPath(import.meta.resolve('@koru/delta'))).toBe(join(root, 'dist/node.js'));
  });
});

/** Every file of the browser entry's module graph, following @koru/* packages by their browser conditions. */
function browserGraph(entry: string): Map<string, string> {
  return moduleGraph(entry, {
    bare: (spec) => {
      if (!spec.startsWith('@koru/')) return undefined;
      const target = resolveExport(root, spec, BROWSER_ESM);
      expect(target, `${spec} has a browser/default ESM target`).toBeDefined();
      return target;
    },
  });
}

for (const entry of ['index.js', 'browser.js']) {
  describe(`browser-safe entry dist/${entry}`, () => {
    const graph = browserGraph(join(root, 'dist', entry));

    test('its module graph holds the delta chunks and the browser entries of @koru/engine and @koru/storage', () => {
      const names = [...graph.keys()];
      expect(names.some((f) => /delta\/dist\/chunk-\w+\.js$/.test(f))).toBe(true);
      expect(names.some((f) => /storage\/dist\/index\.js$/.test(f))).toBe(true);
      expect(names.some((f) => /engine\/dist\/index\.js$/.test(f))).toBe(true);
      expect(names.filter((f) => /\/node\.(c?js)$/.test(f))).toEqual([]);
      // Third-party imports are browser-safe libraries only (re2js: the pure-JS RE2 of $regex).
      for (const f of names.filter((n) => n.startsWith('bare:'))) expect(f).toMatch(/^bare:(@noble\/hashes|sorted-btree|re2js)/);
    });

    test('no file of it imports node: modules or uses Buffer or process', () => {
      for (const [file, source] of graph) {
        if (file.startsWith('bare:')) continue;
        const code = codeOnly(source);
        expect(nodeImports(code), file).toEqual([]);
        expect(code, file).not.toMatch(/\bBuffer\b/);
        expect(code, file).not.toMatch(/\bprocess\s*\./);
        expect(code, file).not.toMatch(/\brequire\s*\(/);
      }
    });
  });
}

describe('the database worker dist/browser-worker.js', () => {
  const code = codeOnly(readFileSync(join(root, 'dist/browser-worker.js'), 'utf8'));

  test('is one self-contained ES module: no imports at all, no Node API', () => {
    expect(specifiers(code)).toEqual([]);
    expect(code).not.toMatch(/\bBuffer\b/);
    expect(code).not.toMatch(/\bprocess\s*\./);
  });

  test('the browser build starts it in the form bundlers rewrite', () => {
    const browser = readFileSync(join(root, 'dist/browser.js'), 'utf8');
    expect(browser).toContain('new Worker(new URL("./browser-worker.js", import.meta.url), { type: "module" })');
  });
});

describe('main entry', () => {
  test('start({ path }) from the main entry (no Node nor browser build loaded) fails with UNSUPPORTED; in-memory works', () => {
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
    const r = spawnNode(root, ['--input-type=module', '-e', script]);
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
    const r = spawnNode(root, ['-e', script]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('UNSUPPORTED');
  });
});
