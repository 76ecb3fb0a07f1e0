import { koruVitestWithIntegration } from '@koru/vitest-preset';

// Cluster tests (`*.integration.test.ts`) run real `kdelta start` processes.
export default koruVitestWithIntegration();
