import { koruTsup } from '@koru/tsconfig/tsup.mjs';

export default koruTsup({ entry: ['src/index.ts', 'src/errors.ts', 'src/subscription-check.ts', 'src/filter-expression.ts'], platform: 'neutral' });
