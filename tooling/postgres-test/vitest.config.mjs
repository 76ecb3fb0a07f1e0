import { koruVitest } from '@koru/vitest-preset';

// Each file starts its own PostgreSQL and kdelta processes; on a small machine they run
// one file at a time, so no file's timings are another's load.
export default koruVitest({ test: { include: ['test/**/*.test.mjs'], testTimeout: 120_000, hookTimeout: 60_000, fileParallelism: false } });
