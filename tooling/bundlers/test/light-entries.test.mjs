// A page may take one light entry of a package without the engine behind it: here the
// query editor's parser, `@koru/query/filter-expression`, whose bundle must carry neither
// the regex engine (re2js, the largest part of @koru/query) nor the indexes' B-tree
// (sorted-btree). A structural check of esbuild's metafile (the inputs that reach the
// output), never a size; the main entry is bundled the same way to show the check can fail.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Inputs of the query engine: the regex engine, the B-tree and @koru/query's main bundle. */
const ENGINE_INPUT = /(?:^|\/)(?:node_modules\/re2js\/|node_modules\/sorted-btree\/|packages\/query\/dist\/index\.js$)/;

/** The inputs that reach the output when a page made of `code` is bundled for the browser. */
async function bundledInputs(code) {
  const { build } = await import('esbuild');
  const result = await build({
    // Resolved from this package, which depends on @koru/query.
    stdin: { contents: code, resolveDir: join(import.meta.dirname, '..'), loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    metafile: true,
    outdir: 'out',
    logLevel: 'silent',
  });
  const [output] = Object.values(result.metafile.outputs).filter((o) => o.entryPoint !== undefined);
  return Object.entries(output.inputs)
    .filter(([, v]) => v.bytesInOutput > 0)
    .map(([path]) => path);
}

describe('@koru/query/filter-expression in a page', () => {
  it('bundles the parser, and everything else the entry exports, without re2js or sorted-btree', async () => {
    // Every export kept (a namespace on globalThis), so none is tree-shaken out of the check.
    const inputs = await bundledInputs("import * as filterExpression from '@koru/query/filter-expression';\nglobalThis.filterExpression = filterExpression;\n");
    expect(inputs.some((p) => /packages\/query\/dist\/chunk-/.test(p))).toBe(true);
    expect(inputs.filter((p) => ENGINE_INPUT.test(p))).toEqual([]);
  });

  it('(the check can fail: the main entry carries them, re2js for the checked parser)', async () => {
    const checked = await bundledInputs("import { parseFilterExpression } from '@koru/query';\nglobalThis.parse = parseFilterExpression;\n");
    expect(checked.some((p) => p.includes('node_modules/re2js/'))).toBe(true);
    const inputs = await bundledInputs("import { parseFilterExpression, SecondaryIndex } from '@koru/query';\nglobalThis.x = [parseFilterExpression, SecondaryIndex];\n");
    expect(inputs.some((p) => p.includes('node_modules/re2js/'))).toBe(true);
    expect(inputs.some((p) => p.includes('node_modules/sorted-btree/'))).toBe(true);
  });
});
