import { koruTsup } from '@koru/tsconfig/tsup.mjs';

// The Node entry only (where the built app is); `vite build` writes the app to dist/app,
// which this build must leave in place.
export default koruTsup({
  entry: { index: 'src/node/index.ts' },
  format: ['esm'],
  clean: false,
});
