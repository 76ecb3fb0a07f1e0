import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/node.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'neutral',
  external: [/^node:/],
  // tsup 8 strips `node:` by default; keep it so the Node entry imports `node:crypto`
  // (required by Deno, and never mistaken for an npm `crypto` by browser bundlers).
  removeNodeProtocol: false,
  splitting: true,
});
