// The built package as consumers get it: the exports map, a browser-safe main entry,
// and the Node entry loading under plain Node in both module formats.
import { tempDir } from '@koru/vitest-preset/helpers';
import {
  moduleGraph,
  nodeImports,
  packageDirOf,
  readPackageJson,
  requireFreshBuild,
  runNode,
  specifiers,
} from '@koru/vitest-preset/package-checks';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const pkgDir = packageDirOf(import.meta.url);
const dist = join(pkgDir, 'dist');
const pkg = readPackageJson(pkgDir);

beforeAll(() => requireFreshBuild(pkgDir));

describe('package.json', () => {
  it('has one conditional exports shape: per condition (import / require), types first', () => {
    expect(Object.keys(pkg.exports)).toEqual(['.', './node', './browser', './errors', './names', './opfs-listing', './package.json']);
    expect(pkg.exports['./package.json']).toBe('./package.json');
    for (const [sub, base] of [
      ['.', 'index'],
      ['./node', 'node'],
      ['./browser', 'browser'],
      ['./errors', 'errors'],
      ['./names', 'names'],
      ['./opfs-listing', 'browser/opfs-listing'],
    ] as const) {
      const entry = pkg.exports[sub] as unknown as Record<string, Record<string, string>>;
      expect(Object.keys(entry)).toEqual(['import', 'require']);
      for (const condition of Object.values(entry)) expect(Object.keys(condition)).toEqual(['types', 'default']);
      expect(entry).toEqual({
        import: { types: `./dist/${base}.d.ts`, default: `./dist/${base}.js` },
        require: { types: `./dist/${base}.d.cts`, default: `./dist/${base}.cjs` },
      });
      for (const condition of Object.values(entry)) {
        for (const target of Object.values(condition)) expect(existsSync(join(pkgDir, target)), target).toBe(true);
      }
    }
  });

  it('is an ESM package without side effects, publishing dist only, depending on the engine', () => {
    expect(pkg.name).toBe('@koru/storage');
    expect(pkg.type).toBe('module');
    expect(pkg.sideEffects).toBe(false);
    expect(pkg.files).toEqual(['dist', 'README.md']);
    expect(pkg.engines.node).toMatch(/^>=\d+/);
    expect(pkg.main).toBe('./dist/index.cjs');
    expect(pkg.module).toBe('./dist/index.js');
    expect(pkg.types).toBe('./dist/index.d.ts');
    expect(Object.keys(pkg.dependencies)).toEqual(['@koru/engine']);
  });
});

describe('browser-safe main entry', () => {
  it.each(['index.js', 'index.cjs', 'browser.js', 'browser.cjs'])('dist/%s and the chunks it imports use no Node APIs', (file) => {
    const files = moduleGraph(join(dist, file));
    // The entry and at least its shared chunk.
    expect(files.size).toBeGreaterThan(1);
    for (const [path, code] of files) {
      expect(nodeImports(code), path).toEqual([]);
      expect(code, path).not.toMatch(/["'`]node:/);
      expect(code, path).not.toMatch(/\bBuffer\b/);
      expect(code, path).not.toMatch(/\bprocess\s*\./);
      expect(code, path).not.toMatch(/\b__dirname\b|\b__filename\b/);
      // The only bare import is the declared dependency.
      for (const s of specifiers(code)) if (!s.startsWith('.')) expect(s, path).toBe('@koru/engine');
    }
  });

  it.each(['index.d.ts', 'browser.d.ts'])('the type declarations of %s need no Node types', (file) => {
    const files = moduleGraph(join(dist, file));
    expect(files.size).toBeGreaterThan(1);
    for (const [path, code] of files) {
      expect(code, path).not.toMatch(/\bBuffer\b|\bNodeJS\.|["']node:/);
    }
  });

  it('the Node entry imports Node built-ins with their node: prefix', () => {
    for (const file of ['node.js', 'node.cjs']) {
      const specs = specifiers(readFileSync(join(dist, file), 'utf8'));
      expect(specs, file).toEqual(expect.arrayContaining(['node:fs', 'node:path', 'node:zlib', 'node:os']));
      expect(
        specs.filter((s) => builtinModules.includes(s)),
        file,
      ).toEqual([]);
    }
  });
});

describe('loading the build', () => {
  it('the Node entry loads in this process: ESM with import(), CJS with createRequire', async () => {
    const esm = (await import(/* @vite-ignore */ pathToFileURL(join(dist, 'node.js')).href)) as Record<string, unknown>;
    const cjs = createRequire(import.meta.url)(join(dist, 'node.cjs')) as Record<string, unknown>;
    for (const m of [esm, cjs]) {
      expect(typeof m.FileAdapter).toBe('function');
      expect(typeof m.DirectoryLock).toBe('function');
      expect(typeof m.readLockHolder).toBe('function');
      expect(typeof (m.nodeFileOps as { writeSync?: unknown }).writeSync).toBe('function');
    }
    expect(cjs.FileAdapter).not.toBe(esm.FileAdapter);
  });

  for (const [format, flag, load] of [
    [
      'ESM',
      '--input-type=module',
      (main: string, node: string) => `const m = await import(${JSON.stringify(pathToFileURL(main).href)});
       const n = await import(${JSON.stringify(pathToFileURL(node).href)});`,
    ],
    [
      'CJS',
      '--input-type=commonjs',
      (main: string, node: string) => `const m = require(${JSON.stringify(main)}); const n = require(${JSON.stringify(node)});`,
    ],
  ] as const) {
    it(`${format}: a durable store round-trips through the built files under plain Node`, () => {
      const ext = format === 'ESM' ? 'js' : 'cjs';
      const { dir, cleanup } = tempDir('koru-pkg-');
      try {
        const body = `${load(join(dist, `index.${ext}`), join(dist, `node.${ext}`))}
          (async () => {
            const dir = ${JSON.stringify(dir)};
            const db = await m.CausalStorage.open({ adapter: new n.FileAdapter(dir, { sync: 'always' }) });
            const v = await db.put('pkg', 'k', { format: ${JSON.stringify(format)} });
            await db.close();
            const again = await m.CausalStorage.open({ adapter: new n.FileAdapter(dir) });
            const out = { value: again.get('pkg', 'k'), same: again.getVersion('pkg', 'k').versionId === v.versionId,
              adapter: again.stats().adapter, mem: (await m.CausalStorage.open()).stats().adapter,
              koruError: (() => { try { again.get('pkg', 'nope'); } catch (e) { return e.code; } })() };
            await again.close();
            console.log(JSON.stringify(out));
          })();`;
        expect(JSON.parse(runNode(pkgDir, [flag, '-e', body]))).toEqual({
          value: { format },
          same: true,
          adapter: 'file',
          mem: 'memory',
          koruError: 'KEY_NOT_FOUND',
        });
      } finally {
        cleanup();
      }
    });
  }

  it('resolves by package name through the exports map, and hides internals', () => {
    const out = runNode(pkgDir, [
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module';
       const require = createRequire(${JSON.stringify(pathToFileURL(join(pkgDir, 'package.json')).href)});
       const esm = await import('@koru/storage');
       const esmNode = await import('@koru/storage/node');
       const cjs = require('@koru/storage');
       const cjsNode = require('@koru/storage/node');
       const p = require('@koru/storage/package.json');
       let internal = 'resolved';
       try { await import('@koru/storage/dist/node.js'); } catch (e) { internal = e.code; }
       let internalReq = 'resolved';
       try { require('@koru/storage/src/causal-storage.ts'); } catch (e) { internalReq = e.code; }
       console.log(JSON.stringify({
         esm: typeof esm.CausalStorage, mem: typeof esm.MemoryAdapter, esmHasFile: 'FileAdapter' in esm,
         esmNode: typeof esmNode.FileAdapter, cjs: typeof cjs.CausalStorage, cjsNode: typeof cjsNode.FileAdapter,
         name: p.name, internal, internalReq,
       }));`,
    ]);
    expect(JSON.parse(out)).toEqual({
      esm: 'function',
      mem: 'function',
      esmHasFile: false,
      esmNode: 'function',
      cjs: 'function',
      cjsNode: 'function',
      name: '@koru/storage',
      internal: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      internalReq: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
    });
  });
});
