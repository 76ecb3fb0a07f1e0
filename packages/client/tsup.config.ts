import { koruTsup } from '@koru/tsconfig/tsup.mjs';

export default koruTsup();
