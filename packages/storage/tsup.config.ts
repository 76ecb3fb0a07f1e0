import { koruTsup } from '@koru/tsconfig/tsup.mjs';

// The merge worker is an entry of its own: worker_threads loads it by file (see
// src/node/worker-merge-runner.ts, which finds it beside the built module, by
// `import.meta.url` in ESM and `__filename` in CJS). The CJS build is made from ESM
// output, which would keep `import.meta` — a syntax error in a .cjs file — so there it
// is defined away (the CJS path never reads it).
export default koruTsup({
  entry: ['src/index.ts', 'src/node.ts', 'src/browser.ts', 'src/node/merge-worker.ts', 'src/errors.ts', 'src/names.ts', 'src/browser/opfs-listing.ts'],
  esbuildOptions(options, context) {
    if (context.format === 'cjs') options.define = { ...options.define, 'import.meta.url': 'undefined' };
  },
});
