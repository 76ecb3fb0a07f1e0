/**
 * What the parts of a ClusterNode share: the store, time, randomness, the member list,
 * the log and whether the node has stopped. Each part receives this one small object
 * explicitly; what else it needs from another part it is handed by name.
 */
import type { CausalStorage } from '@koru/delta';
import type { Link } from './link.js';
import type { Membership } from './membership.js';
import type { Clock } from './transport.js';

/** Where a node reports what happens (see ClusterOptions.log). */
export type Log = (level: 'debug' | 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void;

/** The state every part of a node reads. */
export interface NodeContext {
  /** The database's store: what is replicated, compared and snapshotted. */
  readonly storage: CausalStorage;
  readonly clock: Clock;
  /** Random numbers in [0, 1) (probe order, helpers, anti-entropy partners). */
  readonly random: () => number;
  readonly members: Membership;
  readonly log: Log;
  /** Refuse replicated versions stamped further ahead of this node's clock, ms. */
  readonly maxClockAheadMs: number;
  /** True once the node stopped or was killed: nothing new starts. */
  readonly stopped: boolean;
}

/** Deadline of a push and of each anti-entropy request: a stalled link must not stall repair for long. */
export const REQUEST_MS = 5_000;

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

/** Answers request `id` on `link` with an error: the code of `e` (a KoruError's) and its message. */
export function replyError(link: Link, id: number, e: unknown): void {
  const code = (e as { code?: string }).code ?? 'INTERNAL';
  link.send({ t: 'error', id, code: String(code).slice(0, 64), message: (e instanceof Error ? e.message : String(e)).slice(0, 2000) });
}
