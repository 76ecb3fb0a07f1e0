import { koruTsup } from '@koru/tsconfig/tsup.mjs';

// One ESM executable; the library it drives stays an external dependency.
export default koruTsup({
  entry: { kdelta: 'src/kdelta.ts' },
  format: ['esm'],
  dts: false,
  banner: { js: '#!/usr/bin/env node' },
});
