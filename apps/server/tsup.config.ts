import { koruTsup } from '@koru/tsconfig/tsup.mjs';

// ESM only: a Node server. `index` is the library (createServer), `bin` the executable.
export default koruTsup({
  entry: { index: 'src/index.ts', bin: 'src/bin.ts' },
  format: ['esm'],
});
