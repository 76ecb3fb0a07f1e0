/**
 * The messages between a tab and its database worker (a MessagePort) and between tabs
 * (a BroadcastChannel named `koru:<path>`), and which methods are forwarded. Everything
 * crosses by structured clone; errors as their wire form (./errors.ts).
 */
import type { DefinitionProblem, SubscriptionSpec } from '@koru/query';
import type { RecoveryReport } from '@koru/storage';
import type { OpfsListing } from '@koru/storage/browser';
import type { SyncStatus } from '../sync/types.js';
import type { WireError } from './errors.js';

/**
 * The methods the worker serves, each marked read (may be re-sent to a new owner if the
 * old one died before answering: running it twice changes nothing) or write (never
 * re-sent after it may have reached a dead owner: it rejects instead, so a write is
 * never stored twice). `exportVersions` is served as one array.
 */
export const METHODS = {
  put: 'write',
  putMany: 'write',
  delete: 'write',
  importVersions: 'write',
  createIndex: 'write',
  dropIndex: 'write',
  createView: 'write',
  refreshView: 'write',
  deleteView: 'write',
  setRetention: 'write',
  purge: 'write',
  compact: 'write',
  get: 'read',
  getVersion: 'read',
  getAt: 'read',
  history: 'read',
  diff: 'read',
  query: 'read',
  aggregate: 'read',
  queryHistory: 'read',
  listIndexes: 'read',
  listViews: 'read',
  queryView: 'read',
  contains: 'read',
  listNamespaces: 'read',
  listKeys: 'read',
  countKeys: 'read',
  stats: 'read',
  verify: 'read',
  stateRoot: 'read',
  retention: 'read',
  retentionPolicies: 'read',
  exportVersions: 'read',
  // The database's sync with a server runs in the worker (./shared-sync.ts): starting
  // and stopping it are writes (never re-sent), waiting for it a read.
  sync: 'write',
  syncStop: 'write',
  syncSynced: 'read',
} as const;

/** A forwarded method's name. */
export type MethodName = keyof typeof METHODS;

/** True when `name` is a forwarded method (never trust a name from a message). */
export function isMethod(name: unknown): name is MethodName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(METHODS, name);
}

/** A sync the worker runs: what it was started with (so a new owner starts it again) and its status. */
export interface SyncInfo {
  readonly url: string;
  /** The sync's options that can cross (token, namespaces). */
  readonly options: Readonly<Record<string, unknown>>;
  readonly status: SyncStatus;
}

/** What a tab knows of the database without asking: sent at open and after changes. */
export interface DatabaseState {
  readonly nodeId: string;
  readonly seq: number;
  readonly problems: readonly DefinitionProblem[];
  readonly recovery: RecoveryReport;
  /** The running sync with a server; null without one. */
  readonly sync: SyncInfo | null;
}

/** What the owning tab asks its worker to open. */
export interface OpenRequest {
  readonly t: 'open';
  readonly path: string;
  /** The start options that can cross (no functions). */
  readonly options: Readonly<Record<string, unknown>>;
  /** How long to keep retrying while the files are still held (a dead owner's worker letting go), ms. */
  readonly retryMs: number;
  /** The OPFS pool as the tab listed it while holding the database's lock (absent: the worker lists it). */
  readonly listing?: OpfsListing;
}

/** One call: its id (the caller's), the method and its arguments. */
export interface CallItem {
  readonly id: number;
  readonly method: MethodName;
  readonly args: readonly unknown[];
}

/**
 * Tab → worker. Ids are the owning tab's, unique per worker. Calls travel in batches
 * (those made in one turn of the caller's event loop): the worker then starts them in one
 * task, so concurrent writes share one commit (one log record) as they do in one process.
 */
export type ToWorker =
  | OpenRequest
  | { readonly t: 'calls'; readonly calls: readonly CallItem[] }
  | { readonly t: 'sub'; readonly id: number; readonly spec: SubscriptionSpec }
  | { readonly t: 'unsub'; readonly id: number }
  | { readonly t: 'close' };

/**
 * The keys that commits wrote (namespace and key, alternating), for the tabs' read caches
 * (./tab-cache.ts): commits `first` to `last` of the worker's stream, counted from 1 (a
 * tab that sees one skipped clears its cache). It rides on the next message the worker
 * posts after the commits, whatever that is (`inv`), or on an `inval` of its own.
 */
export interface Invalidation {
  readonly first: number;
  readonly last: number;
  readonly keys: readonly string[];
}

/** Worker → tab; any of them may carry the keys of the commits since the previous one (`inv`, handled first). */
export type FromWorker = (
  | { readonly t: 'ready'; readonly state: DatabaseState; readonly warnings: readonly string[] }
  | { readonly t: 'failed'; readonly error: WireError }
  | { readonly t: 'result'; readonly id: number; readonly value: unknown; readonly seq: number }
  | { readonly t: 'error'; readonly id: number; readonly error: WireError; readonly seq: number }
  /** A subscription started after `since` (the seq to resume from if it must move to another owner). */
  | { readonly t: 'subbed'; readonly id: number; readonly since: number }
  | { readonly t: 'event'; readonly id: number; readonly event: unknown }
  | { readonly t: 'end'; readonly id: number; readonly error?: WireError }
  | { readonly t: 'state'; readonly seq: number; readonly problems: readonly DefinitionProblem[]; readonly sync: SyncInfo | null }
  /** Nothing but `inv`: no other message went out soon after the commits. */
  | { readonly t: 'inval' }
  | { readonly t: 'closed' }
) & { readonly inv?: Invalidation };

/**
 * Tab ↔ tab over the BroadcastChannel. `to` names the tab a message is for (every tab
 * receives every message); `from` the sender, for replies. Calls and subscriptions go
 * to the owner, addressed by its id so that a message meant for a dead owner is never
 * taken by the next one.
 */
export type TabMessage = (
  | { readonly t: 'hello'; readonly from: string }
  | { readonly t: 'owner'; readonly owner: string; readonly state: DatabaseState }
  | { readonly t: 'bye'; readonly owner: string }
  | { readonly t: 'state'; readonly owner: string; readonly seq: number; readonly problems: readonly DefinitionProblem[]; readonly sync: SyncInfo | null }
  | { readonly t: 'calls'; readonly to: string; readonly from: string; readonly calls: readonly CallItem[] }
  /** An answer, `from` the owner that ran the call (a read cache fills only from its owner's stream). */
  | { readonly t: 'result'; readonly to: string; readonly from: string; readonly id: number; readonly value: unknown; readonly seq: number }
  | { readonly t: 'error'; readonly to: string; readonly from: string; readonly id: number; readonly error: WireError; readonly seq: number }
  /** Nothing but `inv`, from the owner (see the type's end). */
  | { readonly t: 'inval'; readonly owner: string }
  /** The owner is closing and did not run these calls: send them to the next owner. */
  | { readonly t: 'retry'; readonly to: string; readonly ids: readonly number[] }
  | { readonly t: 'sub'; readonly to: string; readonly from: string; readonly id: number; readonly spec: SubscriptionSpec }
  | { readonly t: 'subbed'; readonly to: string; readonly id: number; readonly since: number }
  | { readonly t: 'event'; readonly to: string; readonly id: number; readonly event: unknown }
  | { readonly t: 'end'; readonly to: string; readonly id: number; readonly error?: WireError }
  | { readonly t: 'unsub'; readonly to: string; readonly from: string; readonly id: number }
) & {
  /**
   * From the owner only, on any of its messages (whoever it is addressed to: every tab
   * handles it, first): its worker's invalidations, passed on in their place in its
   * stream (./tab-cache.ts).
   */
  readonly inv?: Invalidation;
};
