// The built package as consumers get it: the exports map, a browser-safe main entry,
// and both module formats loading under plain Node (outside vitest's module runner).
import {
  moduleGraph,
  nodeImports,
  packageDirOf,
  pickExport,
  readPackageJson,
  requireFreshBuild,
  runNode,
  specifiers,
} from '@koru/vitest-preset/package-checks';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

const pkgDir = packageDirOf(import.meta.url);
const dist = join(pkgDir, 'dist');
const pkg = readPackageJson(pkgDir);

beforeAll(() => requireFreshBuild(pkgDir));

/** Every condition object in an export target, nested ones included. */
function conditionObjects(target: unknown): Record<string, unknown>[] {
  if (typeof target !== 'object' || target === null) return [];
  return [target as Record<string, unknown>, ...Object.values(target).flatMap(conditionObjects)];
}

describe('package.json', () => {
  it('exports the main entry, the Node entry and package.json only', () => {
    expect(Object.keys(pkg.exports)).toEqual(['.', './node', './package.json']);
    expect(pkg.exports['./package.json']).toBe('./package.json');
  });

  it.each([
    ['.', 'index'],
    ['./node', 'node'],
  ])('%s: types first, and ESM/CJS consumers each get code and types of their own format', (sub, base) => {
    const entry = pkg.exports[sub];
    for (const o of conditionObjects(entry)) {
      if ('types' in o) expect(Object.keys(o)[0], `"types" must come first in ${JSON.stringify(o)}`).toBe('types');
      if ('default' in o) expect(Object.keys(o).at(-1), `"default" must come last in ${JSON.stringify(o)}`).toBe('default');
    }
    // What Node, bundlers and TypeScript resolve for import and require.
    expect(pickExport(entry, ['node', 'import'])).toBe(`./dist/${base}.js`);
    expect(pickExport(entry, ['browser', 'import'])).toBe(`./dist/${base}.js`);
    expect(pickExport(entry, ['node', 'require'])).toBe(`./dist/${base}.cjs`);
    expect(pickExport(entry, ['types', 'import'])).toBe(`./dist/${base}.d.ts`);
    // CJS code needs CJS types (.d.cts), else TypeScript sees ESM types for a require().
    expect(pickExport(entry, ['types', 'require'])).toBe(`./dist/${base}.d.cts`);
    for (const conditions of [['import'], ['require'], ['types', 'import'], ['types', 'require']]) {
      const target = pickExport(entry, conditions)!;
      expect(existsSync(join(pkgDir, target)), target).toBe(true);
    }
  });

  it('TypeScript (node16) resolves CJS and ESM importers to types of the matching format', () => {
    const options: ts.CompilerOptions = { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 };
    const importer = join(pkgDir, 'src', 'importer.ts');
    for (const [name, base] of [
      ['@koru/engine', 'index'],
      ['@koru/engine/node', 'node'],
    ] as const) {
      const cjs = ts.resolveModuleName(name, importer, options, ts.sys, undefined, undefined, ts.ModuleKind.CommonJS);
      expect(cjs.resolvedModule?.resolvedFileName).toBe(join(dist, `${base}.d.cts`));
      const esm = ts.resolveModuleName(name, importer, options, ts.sys, undefined, undefined, ts.ModuleKind.ESNext);
      expect(esm.resolvedModule?.resolvedFileName).toBe(join(dist, `${base}.d.ts`));
    }
  });

  it('is an ESM package without side effects, publishing dist only', () => {
    expect(pkg.name).toBe('@koru/engine');
    expect(pkg.type).toBe('module');
    expect(pkg.sideEffects).toBe(false);
    expect(pkg.files).toEqual(['dist', 'README.md']);
    expect(pkg.engines.node).toMatch(/^>=\d+/);
    expect(pkg.main).toBe('./dist/index.cjs');
    expect(pkg.module).toBe('./dist/index.js');
    expect(pkg.types).toBe('./dist/index.d.ts');
  });
});

describe('browser-safe main entry', () => {
  it.each(['index.js', 'index.cjs'])('dist/%s and what it imports use no Node APIs', (file) => {
    const files = moduleGraph(join(dist, file));
    expect(files.size).toBeGreaterThan(0);
    for (const [path, code] of files) {
      expect(nodeImports(code), path).toEqual([]);
      expect(code, path).not.toMatch(/["'`]node:/);
      expect(code, path).not.toMatch(/\bBuffer\b/);
      expect(code, path).not.toMatch(/\bprocess\s*\./);
      expect(code, path).not.toMatch(/\b__dirname\b|\b__filename\b/);
      // The only bare import is the declared dependency.
      for (const s of specifiers(code)) if (!s.startsWith('.')) expect(s, path).toMatch(/^@noble\/hashes\//);
    }
  });

  it('the Node entry imports node:crypto with its node: prefix kept', () => {
    expect(specifiers(readFileSync(join(dist, 'node.js'), 'utf8'))).toContain('node:crypto');
    expect(specifiers(readFileSync(join(dist, 'node.cjs'), 'utf8'))).toContain('node:crypto');
    for (const file of ['node.js', 'node.cjs']) {
      const bare = specifiers(readFileSync(join(dist, file), 'utf8')).filter((s) => builtinModules.includes(s));
      expect(bare, file).toEqual([]);
    }
  });
});

describe('loading the build', () => {
  const esm = pathToFileURL(join(dist, 'index.js')).href;
  const esmNode = pathToFileURL(join(dist, 'node.js')).href;

  it('loads in this process by path: ESM with import(), CJS with createRequire', async () => {
    const m = (await import(/* @vite-ignore */ esm)) as { canonicalize: (v: unknown) => { text: string } };
    expect(m.canonicalize({ z: 1, a: null }).text).toBe('{"a":null,"z":1}');
    const c = createRequire(import.meta.url)(join(dist, 'index.cjs')) as typeof m;
    expect(c.canonicalize({ z: 1, a: null }).text).toBe('{"a":null,"z":1}');
    expect(c.canonicalize).not.toBe(m.canonicalize);
  });

  it('ESM loads under Node and exposes the API', () => {
    const out = runNode(pkgDir, [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(esm)});
       const n = await import(${JSON.stringify(esmNode)});
       console.log(JSON.stringify({
         canonicalize: typeof m.canonicalize, text: m.canonicalize({ b: 1, a: [2] }).text,
         abc: m.distinctionOfText('abc').id, installNodeHash: typeof n.installNodeHash,
         koruError: new m.InvalidValueError('x') instanceof m.KoruError,
       }));`,
    ]);
    expect(JSON.parse(out)).toEqual({
      canonicalize: 'function',
      text: '{"a":[2],"b":1}',
      abc: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      installNodeHash: 'function',
      koruError: true,
    });
  });

  it('CJS loads under Node with require and exposes the API', () => {
    const out = runNode(pkgDir, [
      '--input-type=commonjs',
      '-e',
      `const m = require(${JSON.stringify(join(dist, 'index.cjs'))});
       const n = require(${JSON.stringify(join(dist, 'node.cjs'))});
       console.log(JSON.stringify({
         canonicalize: typeof m.canonicalize, text: m.canonicalize({ b: 1, a: [2] }).text,
         abc: m.distinctionOfText('abc').id, installNodeHash: typeof n.installNodeHash,
       }));`,
    ]);
    expect(JSON.parse(out)).toEqual({
      canonicalize: 'function',
      text: '{"a":[2],"b":1}',
      abc: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      installNodeHash: 'function',
    });
  });

  it('ESM and CJS builds in one process share the hash backend', () => {
    const out = runNode(pkgDir, [
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module';
       const require = createRequire(${JSON.stringify(pathToFileURL(join(pkgDir, 'package.json')).href)});
       const esm = await import(${JSON.stringify(esm)});
       const cjs = require(${JSON.stringify(join(dist, 'index.cjs'))});
       const cjsNode = require(${JSON.stringify(join(dist, 'node.cjs'))});
       const before = esm.hashBackend().name;
       const id = esm.distinctionOfText('koru').id;
       cjsNode.installNodeHash();
       console.log(JSON.stringify({ before, esm: esm.hashBackend().name, cjs: cjs.hashBackend().name,
         same: esm.distinctionOfText('koru').id === id && cjs.distinctionOfText('koru').id === id }));`,
    ]);
    expect(JSON.parse(out)).toEqual({ before: 'noble', esm: 'node', cjs: 'node', same: true });
  });

  it('resolves by package name through the exports map (import and require)', () => {
    // Self-reference: a package can import its own name when it has an exports map.
    const out = runNode(pkgDir, [
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module';
       const require = createRequire(${JSON.stringify(pathToFileURL(join(pkgDir, 'package.json')).href)});
       const a = await import('@koru/engine');
       const b = require('@koru/engine');
       const n = await import('@koru/engine/node');
       const p = require('@koru/engine/package.json');
       console.log(JSON.stringify([typeof a.canonicalize, typeof b.canonicalize, typeof n.installNodeHash, p.name,
         require.resolve('@koru/engine').endsWith('index.cjs')]));`,
    ]);
    expect(JSON.parse(out)).toEqual(['function', 'function', 'function', '@koru/engine', true]);
  });
});
