import { koruVitest } from './preset.mjs';

// The preset's own tests: the PostgreSQL harness, which starts real servers.
export default koruVitest({ test: { include: ['test/**/*.test.mjs'], testTimeout: 120_000, hookTimeout: 120_000 } });
