import { koruVitest } from '@koru/vitest-preset';

export default koruVitest({ test: { include: ['test/**/*.test.mjs'], testTimeout: 120_000, hookTimeout: 120_000 } });
