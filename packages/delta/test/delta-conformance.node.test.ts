// The KoruDelta conformance suite on the embedded engine: in memory and durable. The
// PostgreSQL store runs the same suite in ./postgres.node.test.ts.
import { openDurable, openMemory, runDeltaConformance, type OpenDelta } from './delta-conformance.js';

const kinds: Array<[string, OpenDelta]> = [
  ['memory', openMemory],
  ['durable', openDurable],
];
runDeltaConformance('embedded in memory', openMemory, { importInto: kinds });
runDeltaConformance('embedded durable', openDurable, { importInto: kinds });
