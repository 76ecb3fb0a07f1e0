/**
 * The Node build of @koru/client: everything in the browser-safe entry, with the `ws`
 * package's WebSocket as the default (Node 20 has no global WebSocket). `ws` is loaded
 * on the first connection, not on import: a process that never connects (a `kdelta get`,
 * an embedded database that never syncs) does not pay the ~25 ms its modules take to load.
 */
import { createRequire } from 'node:module';
import { registerWebSocket, type WebSocketConstructor, type WebSocketLike } from './platform.js';

let loaded: WebSocketConstructor | undefined;

/** The `ws` package's WebSocket, loaded (synchronously) on first use. */
function wsWebSocket(): WebSocketConstructor {
  if (loaded === undefined) {
    // ESM has no `require`: one is made from this module's URL (CJS: its file), so `ws`
    // resolves from this package, as the static import it replaces did.
    const require = createRequire(typeof __filename === 'string' ? __filename : import.meta.url);
    loaded = (require('ws') as typeof import('ws')).WebSocket as unknown as WebSocketConstructor;
  }
  return loaded;
}

/** Stands for `ws`'s WebSocket: `new` returns a real one (a constructor may return an object). */
class LazyWebSocket {
  constructor(url: string) {
    const WebSocket = wsWebSocket();
    return new WebSocket(url) as WebSocketLike as unknown as LazyWebSocket;
  }
}

registerWebSocket(LazyWebSocket as unknown as WebSocketConstructor);

export * from './index.js';
