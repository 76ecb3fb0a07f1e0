/**
 * One subject's whole run, in a child process of its own (started by run.ts): put rows,
 * batched put, reads on the base workload, the large database, then the query rows. A
 * section that throws is reported as a problem and the next section still runs. A
 * subject without a versioned store (LokiJS) runs the query section only.
 */
import { mkdir } from 'node:fs/promises';
import { sendToParent } from './child.js';
import type { BenchConfig } from './config.js';
import { createContext, type SuiteContext } from './context.js';
import { batchSection, putSection } from './sections/puts.js';
import { largeSection } from './sections/large.js';
import { querySection } from './sections/queries.js';
import { readSection } from './sections/reads.js';
import { loadSubject } from './load-subject.js';
import { SUBJECT_LABELS, hasVersionedStore, type Subject, type SubjectId } from './subject.js';
import { keyNames } from './workload.js';

/** Arguments of `suite.ts`. */
export interface SuiteArgs {
  readonly subject: SubjectId;
  readonly config: BenchConfig;
  /** scratch directory for this subject's databases (removed by the runner) */
  readonly dir: string;
}

/** Sections in order; `versioned` ones need the subject's versioned store. */
const SECTIONS: readonly [string, (ctx: SuiteContext) => Promise<void>, { versioned: boolean }][] = [
  ['put', putSection, { versioned: true }],
  ['batched put', batchSection, { versioned: true }],
  ['reads', readSection, { versioned: true }],
  ['large database', largeSection, { versioned: true }],
  ['queries', querySection, { versioned: false }],
];

const args = JSON.parse(process.argv[2]!) as SuiteArgs;
let subject: Subject;
try {
  subject = await loadSubject(args.subject);
} catch (error) {
  await sendToParent({ type: 'problem', message: `${SUBJECT_LABELS[args.subject]}: cannot load the subject: ${error instanceof Error ? error.message : String(error)}` });
  process.exit(1);
}
await sendToParent({ type: 'meta', label: subject.label, version: subject.version });
await mkdir(args.dir, { recursive: true });
const ctx = createContext(subject, args.config, keyNames(args.config.keys), args.dir, sendToParent);
const versioned = hasVersionedStore(subject);
for (const [name, section, needs] of SECTIONS) {
  if (needs.versioned && !versioned) continue;
  const t0 = performance.now();
  try {
    await section(ctx);
  } catch (error) {
    await ctx.problem(`${name} section failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  ctx.log(`${name} section took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
await sendToParent({ type: 'done' });
process.exit(0);
