import { koruTsup } from '@koru/tsconfig/tsup.mjs';

export default koruTsup({ entry: ['src/index.ts'], platform: 'neutral' });
