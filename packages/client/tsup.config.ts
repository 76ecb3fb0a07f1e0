import { koruTsup } from '@koru/tsconfig/tsup.mjs';

// The Node entry makes a `require` from `import.meta.url` in ESM and from `__filename` in
// CJS (src/node.ts). The CJS build is made from ESM output, which would keep `import.meta`
// — a syntax error in a .cjs file — so there it is defined away (the CJS path never reads it).
export default koruTsup({
  esbuildOptions(options, context) {
    if (context.format === 'cjs') options.define = { ...options.define, 'import.meta.url': 'undefined' };
  },
});
