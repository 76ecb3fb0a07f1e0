/**
 * The Node build of @koru/client: everything in the browser-safe entry, with the `ws`
 * package's WebSocket as the default (Node 20 has no global WebSocket).
 */
import { WebSocket } from 'ws';
import { registerWebSocket, type WebSocketConstructor } from './platform.js';

registerWebSocket(WebSocket as unknown as WebSocketConstructor);

export * from './index.js';
