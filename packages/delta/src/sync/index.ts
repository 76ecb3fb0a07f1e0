/**
 * Local-first sync (`KoruDelta.sync`): the session started on checked options. Loaded on
 * the first `sync` call (it brings @koru/client). The server side (`syncPull`,
 * `syncPush`) is in serve.ts, the checks in options.ts.
 */
import type { CausalStorage } from '@koru/storage';
import { checkSyncOptions, checkSyncUrl } from './options.js';
import { SyncSession } from './session.js';
import type { SyncHandle, SyncOptions } from './types.js';

/**
 * Starts syncing `storage` with the server at `url` (checked first). Resolves at once:
 * the connection is made in the background, and retried while the server is unreachable
 * (`status.online` says when it is up). @throws INVALID_ARGUMENT, INVALID_NAMESPACE
 */
export function startSync(storage: CausalStorage, url: unknown, options: unknown, onStop: () => void): SyncHandle {
  const checkedUrl = checkSyncUrl(url);
  const namespaces = checkSyncOptions(options ?? {});
  return new SyncSession(storage, checkedUrl, (options ?? {}) as SyncOptions, namespaces, onStop);
}
