import { koruTsup } from '@koru/tsconfig/tsup.mjs';

// Node only (a PostgreSQL driver): one entry.
export default koruTsup({ entry: ['src/index.ts'] });
