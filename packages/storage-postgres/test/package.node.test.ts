// The published shape of @koru/storage-postgres: one Node entry, ESM and CJS with their
// own types, depending on the layers below (engine, storage, query) and the driver only.
import { exportTargets, packageDirOf, pickExport, readPackageJson, requireFreshBuild, spawnNode, typesProblems } from '@koru/vitest-preset/package-checks';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';

const root = packageDirOf(import.meta.url);
const pkg = readPackageJson(root);
requireFreshBuild(root);

describe('package.json', () => {
  test('exports map: ESM and CJS with per-format types; dependencies point down only', () => {
    const dot = pkg.exports['.'] as Record<string, unknown>;
    expect(pkg.name).toBe('@koru/storage-postgres');
    expect(pkg.type).toBe('module');
    expect(pkg.files).toEqual(['dist', 'README.md']);
    expect(pkg.engines.node).toBeDefined();
    expect(Object.keys(pkg.dependencies).sort()).toEqual(['@koru/engine', '@koru/query', '@koru/storage', 'pg']);
    expect(pickExport(dot, new Set(['import']))).toBe('./dist/index.js');
    expect(pickExport(dot, new Set(['require']))).toBe('./dist/index.cjs');
    expect(typesProblems(dot)).toEqual([]);
    for (const t of exportTargets(pkg.exports)) expect(existsSync(join(root, t)), t).toBe(true);
  });
});

describe('built entries', () => {
  test('ESM and CJS load in a fresh process and name the same API', () => {
    const probe = 'JSON.stringify({ open: typeof m.PostgresStore.open, schema: m.SCHEMA_VERSION, push: typeof m.pushDown })';
    const esm = spawnNode(root, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(pathToFileURL(join(root, 'dist/index.js')).href)}); console.log(${probe});`]);
    expect(esm.status, esm.stderr).toBe(0);
    const cjs = spawnNode(root, ['-e', `const m = require(${JSON.stringify(join(root, 'dist/index.cjs'))}); console.log(${probe});`]);
    expect(cjs.status, cjs.stderr).toBe(0);
    const expected = { open: 'function', schema: 1, push: 'function' };
    expect(JSON.parse(esm.stdout)).toEqual(expected);
    expect(JSON.parse(cjs.stdout)).toEqual(expected);
  });
});
