import { koruVitestWithIntegration } from '@koru/vitest-preset';

export default koruVitestWithIntegration();
