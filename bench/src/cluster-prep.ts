/**
 * Child process of the cluster rows: fills a member's data directory before the member
 * starts, through the embedded API (`KoruDelta.start({ path })`, `putMany` in batches,
 * `compact()`, `close()`). The versions are the bench's workload documents, version-major
 * (all keys at v, then v + 1). Reports `{ type: 'prepared', … }` to the parent.
 */
import { KoruDelta } from '@koru/delta';
import { sendToParent } from './child.js';
import { NAMESPACE, keyNames, makeDoc } from './workload.js';

export interface PrepArgs {
  readonly dir: string;
  readonly keys: number;
  readonly versions: number;
  readonly batch: number;
}

export interface PrepReport {
  readonly type: 'prepared';
  readonly nodeId: string;
  readonly versions: number;
  readonly stateRoot: string;
  readonly writeMs: number;
  readonly compactMs: number;
}

const args = JSON.parse(process.argv[2]!) as PrepArgs;
const names = keyNames(args.keys);
const t0 = performance.now();
const db = await KoruDelta.start({ path: args.dir });
let items: { namespace: string; key: string; value: object }[] = [];
for (let v = 0; v < args.versions; v++) {
  for (let k = 0; k < args.keys; k++) {
    items.push({ namespace: NAMESPACE, key: names[k]!, value: makeDoc(k, v) });
    if (items.length === args.batch) {
      await db.putMany(items);
      items = [];
    }
  }
}
if (items.length > 0) await db.putMany(items);
const t1 = performance.now();
await db.compact();
const t2 = performance.now();
const report: PrepReport = {
  type: 'prepared',
  nodeId: db.nodeId,
  versions: (await db.stats()).versions,
  stateRoot: db.storage.stateRoot(),
  writeMs: t1 - t0,
  compactMs: t2 - t1,
};
await db.close();
await sendToParent(report);
