import { koruTsup } from '@koru/tsconfig/tsup.mjs';

// Node only (sockets, HMAC): one entry.
export default koruTsup({ entry: ['src/index.ts'] });
