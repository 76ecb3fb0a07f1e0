import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/node.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'node',
  external: [/^node:/, /^@koru\//],
  // tsup 8 strips `node:` by default; keep it so the Node entry imports `node:fs` etc.
  // (required by Deno, never mistaken for an npm package by browser bundlers).
  removeNodeProtocol: false,
  splitting: true,
});
