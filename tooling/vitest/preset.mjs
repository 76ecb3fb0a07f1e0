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

/**
 * A config with two projects: in-process tests, and cross-process ones
 * (`*.integration.test.ts`: child processes, SIGKILL, restarts), which get more time.
 * Both run in `vitest run`. (Written out rather than `extends: true` from koruVitest:
 * extending concatenates `include`, which would put every test in both projects.)
 */
export function koruVitestWithIntegration() {
  const shared = { testTimeout: 60_000, hookTimeout: 60_000 };
  return defineConfig({
    test: {
      // The JSON report lets .ci/run print one total over every package.
      reporters: ['default', 'json'],
      outputFile: { json: '.vitest-results.json' },
      projects: [
        {
          test: {
            ...shared,
            name: 'unit',
            include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
            exclude: ['**/node_modules/**', '**/*.integration.test.ts'],
          },
        },
        {
          test: { ...shared, name: 'integration', include: ['test/**/*.integration.test.ts'], testTimeout: 180_000 },
        },
      ],
    },
  });
}
