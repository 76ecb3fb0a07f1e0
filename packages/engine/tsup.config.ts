import { koruTsup } from '@koru/tsconfig/tsup.mjs';

// Neutral platform: the main entry is browser-safe; only the Node entry imports `node:crypto`.
export default koruTsup({ platform: 'neutral' });
