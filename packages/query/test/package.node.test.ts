// The published shape of @koru/query: a browser-safe main entry and light entries (errors,
// subscription-check, filter-expression), ESM and CJS, each with its own types, and
// sources that use nothing from Node.
import {
  codeOnly,
  moduleGraph,
  nodeImports,
  packageDirOf,
  pickExport,
  readPackageJson,
  requireFreshBuild,
  spawnNode,
} from '@koru/vitest-preset/package-checks';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';

const root = packageDirOf(import.meta.url);
const pkg = readPackageJson(root);

describe('package.json', () => {
  test('exports map: per-condition types, package.json exported, no side effects', () => {
    const dot = pkg.exports['.'] as Record<string, unknown>;
    expect(pkg.name).toBe('@koru/query');
    expect(pkg.type).toBe('module');
    expect(pkg.sideEffects).toBe(false);
    expect(pkg.files).toEqual(['dist', 'README.md']);
    expect(pkg.engines.node).toBeDefined();
    // Layers point down only: engine and storage, nothing above; the B+ tree of the indexes
    // and the linear-time regex engine (pure JavaScript, browser-safe).
    expect(pkg.dependencies).toEqual({
      '@koru/engine': 'workspace:^',
      '@koru/storage': 'workspace:^',
      re2js: '^2.10.0',
      'sorted-btree': '^2.1.0',
    });
    expect(pkg.exports['./package.json']).toBe('./package.json');
    expect(pickExport(dot, new Set(['import']))).toBe('./dist/index.js');
    expect(pickExport(dot, new Set(['require']))).toBe('./dist/index.cjs');
    expect(pickExport(dot, new Set(['types', 'import']))).toBe('./dist/index.d.ts');
    expect(pickExport(dot, new Set(['types', 'require']))).toBe('./dist/index.d.cts');
  });

  test('the light entries: the same shape, one dist file each', () => {
    expect(Object.keys(pkg.exports)).toEqual(['.', './errors', './subscription-check', './filter-expression', './package.json']);
    for (const base of ['errors', 'subscription-check', 'filter-expression']) {
      expect(pkg.exports[`./${base}`]).toEqual({
        import: { types: `./dist/${base}.d.ts`, default: `./dist/${base}.js` },
        require: { types: `./dist/${base}.d.cts`, default: `./dist/${base}.cjs` },
      });
    }
  });
});

describe('browser safety', () => {
  test('sources import nothing from Node and use no Buffer or process', () => {
    const src = join(root, 'src');
    const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    expect(files.length).toBeGreaterThan(5);
    expect(files).toContain(join('filter-expression', 'parser.ts'));
    for (const f of files) {
      const code = codeOnly(readFileSync(join(src, f), 'utf8'));
      expect(nodeImports(code), f).toEqual([]);
      expect(code, f).not.toMatch(/\b(?:Buffer|process)\b/);
      // No reaching into other packages: a relative import stays inside src.
      for (const m of code.matchAll(/from '(\.[^']*)'/g)) {
        expect(relative(src, resolve(src, dirname(f), m[1]!)).startsWith('..'), `${f}: ${m[1]}`).toBe(false);
      }
    }
  });

  test.skipIf(!existsSync(join(root, 'dist/index.js')))('the built ESM and CJS entries import no Node built-ins', () => {
    for (const entry of ['dist/index.js', 'dist/index.cjs']) {
      for (const [file, code] of moduleGraph(join(root, entry))) expect(nodeImports(code), file).toEqual([]);
    }
  });
});

describe('the light filter-expression entry', () => {
  const dist = join(root, 'dist');
  beforeAll(() => requireFreshBuild(root));

  // A page's query editor imports it: it must not carry the regex engine (re2js, the largest
  // part of this package) or the indexes' B-tree, nor the main entry that imports them.
  test.each(['filter-expression.js', 'filter-expression.cjs'])('dist/%s and the chunks it imports pull neither re2js nor sorted-btree', (file) => {
    const graph = moduleGraph(join(dist, file), { bare: () => undefined });
    expect(graph.size).toBeGreaterThan(1); // the entry and its shared chunks
    const files = [...graph.keys()];
    expect(files.filter((f) => f.startsWith('bare:'))).toEqual(['bare:@koru/engine']);
    expect(files.filter((f) => /(?:^|\/)index\.c?js$/.test(f))).toEqual([]);
    for (const [path, code] of graph) {
      expect(nodeImports(code), path).toEqual([]);
      expect(code, path).not.toMatch(/re2js|sorted-btree|RE2JS|BTree/);
    }
    // The main entry does pull them, so the check above can fail.
    const main = [...moduleGraph(join(dist, 'index.js'), { bare: () => undefined }).keys()];
    expect(main).toEqual(expect.arrayContaining(['bare:re2js', 'bare:sorted-btree']));
  });

  test('offers the syntax step and the error class the main entry offers (the same class), ESM and CJS', () => {
    const esm = spawnNode(root, [
      '--input-type=module',
      '-e',
      `const light = await import(${JSON.stringify(pathToFileURL(join(dist, 'filter-expression.js')).href)});
const main = await import(${JSON.stringify(pathToFileURL(join(dist, 'index.js')).href)});
let e; try { light.parseFilterSyntax('age >'); } catch (x) { e = x; }
console.log(JSON.stringify({ keys: Object.keys(light).sort(), same: light.FilterSyntaxError === main.FilterSyntaxError && light.parseFilterSyntax === main.parseFilterSyntax,
  checked: [typeof main.parseFilterExpression, typeof main.parseFilterExpressions], wire: light.parseFilterSyntax('x ~ /(/i'),
  error: [e instanceof main.FilterSyntaxError, e instanceof main.InvalidQueryError, e.code, e.column, e.message] }));`,
    ]);
    expect(esm.stderr).toBe('');
    const expected = {
      keys: ['FilterSyntaxError', 'parseFilterSyntax'],
      same: true,
      checked: ['function', 'function'],
      wire: { x: { $matches: '(', $options: 'i' } },
      error: [true, true, 'INVALID_QUERY', 6, "--filter: expected a value after '>' at column 6"],
    };
    expect(JSON.parse(esm.stdout)).toEqual(expected);
    const cjs = spawnNode(root, [
      '-e',
      `const light = require(${JSON.stringify(join(dist, 'filter-expression.cjs'))});
const main = require(${JSON.stringify(join(dist, 'index.cjs'))});
let e; try { light.parseFilterSyntax('age >'); } catch (x) { e = x; }
console.log(JSON.stringify({ keys: Object.keys(light).sort(), same: light.FilterSyntaxError === main.FilterSyntaxError && light.parseFilterSyntax === main.parseFilterSyntax,
  checked: [typeof main.parseFilterExpression, typeof main.parseFilterExpressions], wire: light.parseFilterSyntax('x ~ /(/i'),
  error: [e instanceof main.FilterSyntaxError, e instanceof main.InvalidQueryError, e.code, e.column, e.message] }));`,
    ]);
    expect(cjs.stderr).toBe('');
    expect(JSON.parse(cjs.stdout)).toEqual(expected);
  });
});
