import { koruVitest } from '@koru/vitest-preset';

export default koruVitest({ test: { include: ['test/**/*.test.mjs'], testTimeout: 300_000, hookTimeout: 120_000 } });
