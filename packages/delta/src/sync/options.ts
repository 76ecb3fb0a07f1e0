/**
 * The checks of `KoruDelta.sync`'s arguments and of the `syncWith` start option. Kept
 * apart from the session (index.ts), which loads @koru/client: a database that never
 * syncs does not load it.
 */
import { InvalidArgumentError } from '@koru/engine';
import { namespaceSet } from './serve.js';

const OPTIONS = new Set(['token', 'namespaces', 'WebSocket']);

/** `url` checked as a server address (http, https, ws, wss). @throws INVALID_ARGUMENT */
export function checkSyncUrl(url: unknown): string {
  if (typeof url !== 'string' || url.length === 0) throw new InvalidArgumentError('sync needs the server URL, such as http://127.0.0.1:7878');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidArgumentError(`sync: not a URL: ${JSON.stringify(url)}`);
  }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) throw new InvalidArgumentError(`sync: unsupported URL scheme ${u.protocol} (use http: or https:)`);
  return url;
}

/**
 * Checks `options` (and `extra` allowed names, for the start option) and gives the
 * namespaces selected. @throws INVALID_ARGUMENT, INVALID_NAMESPACE
 */
export function checkSyncOptions(options: unknown, extra: readonly string[] = []): ReadonlySet<string> | undefined {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new InvalidArgumentError('sync options must be an object');
  for (const k of Object.keys(options)) {
    if (!OPTIONS.has(k) && !extra.includes(k)) throw new InvalidArgumentError(`unknown sync option ${JSON.stringify(k)} (known: ${[...extra, ...OPTIONS].join(', ')})`);
  }
  const o = options as Record<string, unknown>;
  if (o['token'] !== undefined && typeof o['token'] !== 'string') throw new InvalidArgumentError('sync token must be a string');
  if (o['WebSocket'] !== undefined && typeof o['WebSocket'] !== 'function') throw new InvalidArgumentError('sync WebSocket must be a WebSocket class');
  return namespaceSet(o['namespaces']);
}
