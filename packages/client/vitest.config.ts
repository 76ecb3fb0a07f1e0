import { defineConfig } from 'vitest/config';

// Two projects: in-process tests, and cross-process ones (`*.integration.test.ts`:
// child processes killed with SIGKILL), which get more time. Both run in `vitest run`.
// Written out rather than `extends: true` from @koru/vitest-preset: extending
// concatenates `include`, which would put every test in the integration project.
const shared = { testTimeout: 60_000, hookTimeout: 60_000 };

export default defineConfig({
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
        test: {
          ...shared,
          name: 'integration',
          include: ['test/**/*.integration.test.ts'],
          testTimeout: 180_000,
        },
      },
    ],
  },
});
