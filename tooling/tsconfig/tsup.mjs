// Shared tsup settings for the KoruDelta packages.
import { defineConfig } from 'tsup';

/**
 * A package's tsup config: entries `src/index.ts` (main) and `src/node.ts` (Node),
 * ESM and CJS with their own types, shared chunks, Node platform, and `node:*` and
 * `@koru/*` imports left external. `overrides` replace these options one by one
 * (shallow), e.g. `{ platform: 'neutral' }`.
 *
 * `removeNodeProtocol: false`: tsup 8 strips `node:` by default; keeping it makes the
 * Node entry import `node:fs`, `node:crypto`, ... (required by Deno, and never
 * mistaken for an npm package by browser bundlers).
 */
export function koruTsup(overrides = {}) {
  return defineConfig({
    entry: ['src/index.ts', 'src/node.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'es2022',
    platform: 'node',
    external: [/^node:/, /^@koru\//],
    removeNodeProtocol: false,
    splitting: true,
    ...overrides,
  });
}
