import { koruVitest } from '@koru/vitest-preset';

export default koruVitest();
