/**
 * A write on its way to the commit queue: a version stamped with its ids and clock, and
 * the log entry that persists it. Local writes and versions made elsewhere (imported,
 * replicated) are stamped alike; once queued, a write is its key's pending head, which
 * the next write to the key chains on.
 */
import { valueIdOfCanonical, versionIdOf, type Canonical, type HlcStamp } from '@koru/engine';
import type { CommitEntry } from './adapter.js';
import type { KeyState } from './key-index.js';
import type { StoreContext } from './store-context.js';
import type { Version } from './types.js';

/** A version ready to commit: its log entry and what readers will see. */
export interface StampedWrite {
  readonly ks: KeyState;
  readonly entry: CommitEntry;
  readonly version: Version;
  readonly wall: number;
  readonly logical: number;
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
  return { ks: w.ks, entry: w.entry, version: w.version, wall: w.wall, logical: w.logical, resolve, reject };
}

/** A write of `canon` (null: a tombstone) after `prev`, stamped `hlc` by `node`. */
export function stampedWrite(ctx: StoreContext, ks: KeyState, canon: Canonical | null, prev: string | null, stamp: HlcStamp, hlc: string, node: string): StampedWrite {
  const deleted = canon === null;
  const valueId = deleted ? null : valueIdOfCanonical(canon.text);
  const versionId = versionIdOf({ namespace: ks.namespace, key: ks.key, valueId, previousVersion: prev, hlc, node, deleted });
  const value = deleted ? null : canon.value;
  const version: Version = Object.freeze({
    namespace: ks.namespace,
    key: ks.key,
    value,
    valueId,
    versionId,
    previousVersion: prev,
    timestamp: ctx.isoOf(stamp.wall),
    hlc,
    node,
    deleted,
  });
  const entry: CommitEntry = {
    seq: 0,
    namespace: ks.namespace,
    key: ks.key,
    versionId,
    previousVersion: prev,
    valueId,
    hlc,
    node,
    deleted,
    valueText: deleted ? null : canon.text,
    value,
    sameAs: null,
    loc: -1,
    len: 0,
  };
  return { ks, entry, version, wall: stamp.wall, logical: stamp.logical };
}

/** Makes `w` its key's pending head: the next write to the key chains on it. */
export function markPending(w: StampedWrite): void {
  const ks = w.ks;
  ks.pendingId = w.entry.versionId;
  ks.pendingDeleted = w.entry.deleted;
  ks.pending++;
}
