/**
 * Loading a store from what its adapter recovered: the snapshot (if any) into the index,
 * then the log replayed on top; the clock moves past the newest stamp seen, so every
 * later local write is stamped after everything stored.
 */
import { compareHlc } from '@koru/engine';
import type { LoadedState } from './adapter.js';
import { CorruptionError } from './errors.js';
import type { StoreContext } from './store-context.js';
import type { RecoveryReport } from './types.js';

/**
 * Fills `ctx` (node id, index, seq, clock) from `loaded`; returns what recovery did.
 * @throws CorruptionError when the number of versions and the change counter disagree
 */
export function loadState(ctx: StoreContext, loaded: LoadedState): RecoveryReport {
  const index = ctx.index;
  ctx.nodeId = loaded.nodeId;
  let last = { wall: 0, logical: 0 };
  if (loaded.snapshot !== null) {
    last = index.loadSnapshot(loaded.snapshot);
    ctx.seq = loaded.snapshot.seq;
  }
  for (const e of loaded.log) {
    const stamp = index.replay(e);
    if (compareHlc(stamp, last) > 0) last = stamp;
    if (e.seq > ctx.seq) ctx.seq = e.seq;
  }
  // Each committed change is one row: the change feed relies on seq = row + 1.
  if (ctx.seq !== index.table.count) {
    throw new CorruptionError(`the store holds ${index.table.count} versions but its change counter is ${ctx.seq}`);
  }
  index.nodeIndex(ctx.nodeId);
  ctx.clock.observe(last);
  return loaded.report();
}
