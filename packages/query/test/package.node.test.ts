// The published shape of @koru/query: one browser-safe entry, ESM and CJS, each with its
// own types, and sources that use nothing from Node.
import { codeOnly, moduleGraph, nodeImports, packageDirOf, pickExport, readPackageJson } from '@koru/vitest-preset/package-checks';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';

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
});

describe('browser safety', () => {
  test('sources import nothing from Node and use no Buffer or process', () => {
    const src = join(root, 'src');
    const files = readdirSync(src).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const code = codeOnly(readFileSync(join(src, f), 'utf8'));
      expect(nodeImports(code), f).toEqual([]);
      expect(code, f).not.toMatch(/\b(?:Buffer|process)\b/);
      expect(code, f).not.toMatch(/from '\.\.\//); // no reaching into other packages
    }
  });

  test.skipIf(!existsSync(join(root, 'dist/index.js')))('the built ESM and CJS entries import no Node built-ins', () => {
    for (const entry of ['dist/index.js', 'dist/index.cjs']) {
      for (const [file, code] of moduleGraph(join(root, entry))) expect(nodeImports(code), file).toEqual([]);
    }
  });
});
