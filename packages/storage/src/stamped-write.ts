/**
 * A write on its way to the commit queue: a version stamped with its ids and clock, and
 * the record that stores it. Local writes and versions made elsewhere (imported,
 * replicated) are stamped alike; once queued, a write is its key's pending head, which
 * the next write to the key chains on.
 */
import { valueIdOfCanonical, versionIdOf, type Canonical, type HlcStamp } from '@koru/engine';
import type { Entry } from './lsm/types.js';
import type { PendingKey } from './pending-keys.js';
import type { Version } from './types.js';
import type { NewVersion } from './version-store.js';
import { isoOfWall } from './version-store-reads.js';

/** A version ready to commit: what the store records and what readers will see. */
export interface StampedWrite {
  readonly pk: PendingKey;
  readonly record: NewVersion;
  readonly version: Version;
  /**
   * A record the write's commit must carry in the same log batch: the horizon record of
   * an imported version whose predecessor was cut where it was exported (see
   * horizon-records.ts). Written apart, a crash between the two would leave the key's
   * oldest version naming a predecessor with no horizon, which `verify` reports as damage.
   */
  readonly horizon?: Entry | undefined;
}

/** A stamped write in the commit queue, with the settlers of its promise. */
export interface PendingWrite extends StampedWrite {
  readonly resolve: (v: Version) => void;
  readonly reject: (e: unknown) => void;
}

/** The settler of a write nobody awaits on its own (it shares its batch's promise, or settles synchronously). */
export const noop = (): void => {};

/** A write with its settlers (a literal of one fixed shape: this runs once per write). */
export function pending(w: StampedWrite, resolve: (v: Version) => void, reject: (e: unknown) => void): PendingWrite {
  return { pk: w.pk, record: w.record, version: w.version, horizon: w.horizon, resolve, reject };
}

// Writes come many to a millisecond: the last one's timestamp text is reused.
let lastWall = -1;
let lastTimestamp = '';

/** The ISO timestamp of wall time `wall` (ms). */
function timestampOf(wall: number): string {
  if (wall !== lastWall) {
    lastTimestamp = isoOfWall(wall);
    lastWall = wall;
  }
  return lastTimestamp;
}

/** A write of `canon` (null: a tombstone) to `pk`'s key after `prev`, stamped `hlc` by `node`. */
export function stampedWrite(pk: PendingKey, canon: Canonical | null, prev: string | null, stamp: HlcStamp, hlc: string, node: string): StampedWrite {
  const deleted = canon === null;
  const valueId = deleted ? null : valueIdOfCanonical(canon.text);
  const { namespace, key } = pk;
  const versionId = versionIdOf({ namespace, key, valueId, previousVersion: prev, hlc, node, deleted });
  const version: Version = Object.freeze({
    namespace,
    key,
    value: deleted ? null : canon.value,
    valueId,
    versionId,
    previousVersion: prev,
    timestamp: timestampOf(stamp.wall),
    hlc,
    node,
    deleted,
  });
  const record: NewVersion = {
    namespace,
    key,
    versionId,
    previousVersion: prev,
    valueId,
    valueText: deleted ? null : canon.text,
    wall: stamp.wall,
    logical: stamp.logical,
    node,
    deleted,
  };
  return { pk, record, version };
}

/** Makes `w` its key's pending head: the next write to the key chains on it. */
export function markPending(w: StampedWrite): void {
  const pk = w.pk;
  pk.pendingId = w.record.versionId;
  pk.pendingDeleted = w.record.deleted;
  pk.pending++;
}
