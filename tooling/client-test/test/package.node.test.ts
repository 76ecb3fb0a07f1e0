// The published shape of @koru/client: a Node build behind the `node` condition (the
// ws package as its WebSocket, loaded on the first connection), a browser-safe default whose whole module graph stays
// clear of Node and of the database packages, and a CJS build.
import { codeOnly, moduleGraph, nodeImports, packageDirOf, pickExport, readPackageJson, resolveExport, specifiers, spawnNode, exportTargets, typesProblems } from '@koru/vitest-preset/package-checks';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { startServer, stopAllServers } from './support.js';

// These tests live outside @koru/client (which cannot depend on the database packages
// for its tests: @koru/delta depends on it), and check its published shape there.
const root = resolve(packageDirOf(import.meta.url), '../../packages/client');
const pkg = readPackageJson(root);
const requireHere = createRequire(join(root, 'package.json'));

type Conditions = ReadonlySet<string>;
/** A call of a `require` made with createRequire, as the build names it (`require2("ws")`). */
const LOCAL_REQUIRE = /\brequire\d+\(\s*["']([^"']+)["']\s*\)/g;
const BROWSER_ESM: Conditions = new Set(['browser', 'import', 'default']);
const NODE_ESM: Conditions = new Set(['node', 'import', 'default']);
const NODE_CJS: Conditions = new Set(['node', 'require', 'default']);

afterAll(stopAllServers);

describe('exports map', () => {
  const dot = pkg.exports['.'] as Record<string, unknown>;

  test('has a node condition (ESM and CJS) and a browser-safe default', () => {
    expect(pkg.name).toBe('@koru/client');
    expect(pkg.type).toBe('module');
    expect(Object.keys(dot)[0]).toBe('node');
    expect(pickExport(dot, NODE_ESM)).toBe('./dist/node.js');
    expect(pickExport(dot, NODE_CJS)).toBe('./dist/node.cjs');
    expect(pickExport(dot, BROWSER_ESM)).toBe('./dist/index.js');
    expect(pickExport(dot, new Set(['browser', 'require']))).toBe('./dist/index.cjs');
    expect(pickExport(dot, new Set())).toBe('./dist/index.js');
    expect(pkg.exports['./package.json']).toBe('./package.json');
    expect(pkg.files).toEqual(expect.arrayContaining(['dist', 'README.md']));
    expect(pkg.sideEffects).toEqual(['./dist/node.js', './dist/node.cjs']);
  });

  test('types come first in every condition and match the module format', () => {
    expect(typesProblems(dot)).toEqual([]);
    const withTypes = (c: string[]) => pickExport(dot, new Set(['types', ...c]));
    expect(withTypes(['node', 'import'])).toBe('./dist/node.d.ts');
    expect(withTypes(['node', 'require'])).toBe('./dist/node.d.cts');
    expect(withTypes(['import'])).toBe('./dist/index.d.ts');
    expect(withTypes(['require'])).toBe('./dist/index.d.cts');
  });

  test('every target exists in dist', () => {
    for (const t of exportTargets(pkg.exports)) expect(existsSync(join(root, t)), t).toBe(true);
  });

  test('the package name resolves to the Node builds under Node', () => {
    expect(requireHere.resolve('@koru/client')).toBe(join(root, 'dist/node.cjs'));
    expect(fileURLToPath(import.meta.resolve('@koru/client'))).toBe(join(root, 'dist/node.js'));
  });

  test('dependencies point down: the built code imports @koru/engine (and ws from the Node entry) only', () => {
    const imported = new Set<string>();
    for (const f of ['index.js', 'node.js', 'index.cjs', 'node.cjs']) {
      for (const [, source] of moduleGraph(join(root, 'dist', f), { bare: () => undefined })) {
        const code = codeOnly(source);
        // The Node entry requires ws through a `require` it makes (renamed require2 by the build).
        for (const s of [...specifiers(code), ...[...code.matchAll(LOCAL_REQUIRE)].map((m) => m[1]!)]) if (!s.startsWith('.')) imported.add(s);
      }
    }
    expect([...imported].sort()).toEqual(['@koru/engine', 'node:module', 'ws']);
    // @koru/query and @koru/storage are there for their types only; never @koru/delta.
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['@koru/engine', '@koru/query', '@koru/storage', 'ws']);
    for (const f of ['index.d.ts', 'node.d.ts', 'index.d.cts']) expect(specifiers(readFileSync(join(root, 'dist', f), 'utf8')).filter((s) => s.startsWith('@koru/delta'))).toEqual([]);
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

describe('browser entry', () => {
  const graph = browserGraph(join(root, 'dist/index.js'));

  test('its module graph holds the client chunks and the browser entry of @koru/engine, nothing of ws or the database', () => {
    const names = [...graph.keys()];
    expect(names.some((f) => /client\/dist\/chunk-\w+\.js$/.test(f))).toBe(true);
    expect(names.some((f) => /engine\/dist\/index\.js$/.test(f))).toBe(true);
    expect(names.filter((f) => /(storage|query|delta)\/dist\//.test(f))).toEqual([]);
    expect(names.filter((f) => /\/node\.(c?js)$/.test(f))).toEqual([]);
    // Third-party imports are browser-safe libraries only (engine's hashing); never ws.
    for (const f of names.filter((n) => n.startsWith('bare:'))) expect(f).toMatch(/^bare:@noble\/hashes/);
  });

  test('no file of it imports node: modules or ws, or uses Buffer, process or require', () => {
    for (const [file, source] of graph) {
      if (file.startsWith('bare:')) continue;
      const code = codeOnly(source);
      expect(nodeImports(code), file).toEqual([]);
      expect(specifiers(code).filter((s) => s === 'ws' || s.startsWith('ws/')), file).toEqual([]);
      expect(code, file).not.toMatch(/\bBuffer\b/);
      expect(code, file).not.toMatch(/\bprocess\s*\./);
      expect(code, file).not.toMatch(/\brequire\s*\(/);
    }
  });

  test('the CJS browser build does not require ws either', () => {
    const code = codeOnly(readFileSync(join(root, 'dist/index.cjs'), 'utf8'));
    expect(code).not.toMatch(/require\(["']ws["']\)/);
    expect(nodeImports(code)).toEqual([]);
  });

  test('without a WebSocket, connect fails with UNSUPPORTED; given one (as a browser has), it works', async () => {
    const server = await startServer();
    // A fresh process: the Node entry has certainly not registered ws.
    const script = `
      delete globalThis.WebSocket;
      const { KoruClient, KoruError } = await import(${JSON.stringify(pathToFileURL(join(root, 'dist/index.js')).href)});
      const out = {};
      try { await KoruClient.connect(${JSON.stringify(server.url)}); out.bare = 'connected'; }
      catch (e) { out.bare = { isKoru: e instanceof KoruError, code: e.code, message: e.message }; }
      const { WebSocket } = await import('ws');
      const db = await KoruClient.connect(${JSON.stringify(server.url)}, { WebSocket });
      await db.put('ns', 'k', { ok: true });
      out.value = await db.get('ns', 'k');
      await db.close();
      console.log(JSON.stringify(out));
    `;
    const r = spawnNode(root, ['--input-type=module', '-e', script]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { bare: { isKoru: boolean; code: string; message: string }; value: unknown };
    expect(out.bare).toMatchObject({ isKoru: true, code: 'UNSUPPORTED' });
    expect(out.bare.message).toMatch(/WebSocket/);
    expect(out.value).toEqual({ ok: true });
  });
});

describe('Node entry', () => {
  test.each([
    ['ESM', ['--input-type=module'], `import { createRequire } from 'node:module'; const { KoruClient } = await import('@koru/client'); const cache = createRequire(import.meta.url).cache;`],
    ['CJS', ['--input-type=commonjs'], `const { KoruClient } = require('@koru/client'); const cache = require.cache;`],
  ])('%s: registers a WebSocket that loads ws on the first connection, not on import', async (_format, flags, load) => {
    const server = await startServer();
    const script = `${load}
      const wsLoaded = () => Object.keys(cache).some((k) => /[\\/]ws[\\/]/.test(k));
      (async () => {
        const before = wsLoaded();
        const db = await KoruClient.connect(${JSON.stringify(server.url)});
        await db.put('lazy', 'k', { ok: 1 });
        const value = await db.get('lazy', 'k');
        await db.close();
        console.log(JSON.stringify({ before, after: wsLoaded(), value }));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const r = spawnNode(root, [...flags, '-e', script]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ before: false, after: true, value: { ok: 1 } });
  });

  test('CommonJS: require loads it and it connects; errors are KoruErrors', async () => {
    const server = await startServer();
    const script = `
      const { KoruClient, KoruError, isKoruError } = require('@koru/client');
      (async () => {
        const db = await KoruClient.connect(${JSON.stringify(server.url)});
        await db.put('cjs', 'k', { from: 'require' });
        const value = await db.get('cjs', 'k');
        const e = await db.get('cjs', 'missing').catch((x) => x);
        await db.close();
        console.log(JSON.stringify({ value, isKoru: e instanceof KoruError, code: e.code, is: isKoruError(e, 'KEY_NOT_FOUND') }));
      })().catch((e) => { console.error(e); process.exit(1); });
    `;
    const r = spawnNode(root, ['-e', script]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ value: { from: 'require' }, isKoru: true, code: 'KEY_NOT_FOUND', is: true });
  });
});
