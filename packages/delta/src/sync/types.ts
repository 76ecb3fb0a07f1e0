/**
 * The shapes of local-first sync: what the server's `syncPull` / `syncPush` calls take
 * and answer (apps/server/PROTOCOL.md), and what `db.sync(url, options)` gives back.
 */
import type { KoruError } from '@koru/engine';
import type { WebSocketConstructor } from '@koru/client';

export type { SyncPullOptions, SyncPullResult, SyncPushResult } from '@koru/client';

/** Most versions one `syncPull` answers with. */
export const MAX_SYNC_PULL_VERSIONS = 1_000;

/**
 * Most bytes of versions (as JSON) in one `syncPull` answer: well under the server's
 * WebSocket payload limit (16 MiB by default) — one version larger than it still goes,
 * alone, as `put` would have taken it.
 */
export const MAX_SYNC_PULL_BYTES = 4 * 1024 * 1024;

/** Most versions one `syncPush` may carry (more: LIMIT_EXCEEDED). */
export const MAX_SYNC_PUSH_VERSIONS = 1_000;

/** What a running sync says about itself. */
export interface SyncStatus {
  /** True while connected to the server (welcomed). */
  readonly online: boolean;
  /** Local versions (written by this database, in the synced namespaces) not yet acknowledged by the server. */
  readonly pending: number;
  /** The server seq this database pulled through. */
  readonly lastSyncedSeq: number;
  /** The local seq through which every local version was pushed and acknowledged. */
  readonly lastPushedSeq: number;
  /** The last failure (cleared by the next success): a KoruError's code and message. */
  readonly error?: { readonly code: string; readonly message: string };
}

/** Options of `db.sync(url, options)`. */
export interface SyncOptions {
  /** The server's token. */
  readonly token?: string;
  /** Sync only these namespaces (default: all but `_koru`, whose index and view definitions are each database's own). */
  readonly namespaces?: readonly string[];
  /** The WebSocket class (default: the `ws` package under Node, `globalThis.WebSocket` in browsers). */
  readonly WebSocket?: WebSocketConstructor;
}

/** The `syncWith` option of `KoruDelta.start`: {@link SyncOptions} and the server's URL. */
export interface SyncStartOptions extends SyncOptions {
  /** The server's http(s) address, such as `http://127.0.0.1:7878`. */
  readonly url: string;
}

/** A running sync (see `KoruDelta.sync`). */
export interface SyncHandle {
  /** The current status (a new object at every change). */
  readonly status: SyncStatus;
  /** Calls `listener` with each new status; returns the function that removes it. */
  onStatus(listener: (status: SyncStatus) => void): () => void;
  /**
   * Resolves once every local version committed before the call is acknowledged by the
   * server and every change the server had committed at the call is pulled and applied.
   * Waits through disconnections; rejects with CLOSED if the sync stops first.
   */
  synced(): Promise<void>;
  /** Stops syncing (cursors kept for the next start) and closes the connection. */
  stop(): Promise<void>;
}

/** The error part of a status, from anything thrown. */
export function errorOf(e: unknown): { code: string; message: string } {
  const k = e as Partial<KoruError> | null;
  return { code: typeof k?.code === 'string' ? k.code : 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
}
