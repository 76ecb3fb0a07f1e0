// Shared vitest settings. Randomized tests print their seed through
// `fcSeed()` in ./helpers.mjs so any failure can be replayed.
import { defineConfig } from 'vitest/config';

/** Builds a package's vitest config; `overrides.test` is merged into the defaults. */
export function koruVitest(overrides = {}) {
  return defineConfig({
    ...overrides,
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 60_000,
      hookTimeout: 60_000,
      // The JSON report lets .ci/run print one total over every package.
      reporters: ['default', 'json'],
      outputFile: { json: '.vitest-results.json' },
      ...(overrides.test ?? {}),
    },
  });
}
