import { koruTsup } from '@koru/tsconfig/tsup.mjs';

export default koruTsup({ entry: ['src/index.ts', 'src/errors.ts', 'src/subscription-check.ts'], platform: 'neutral' });
