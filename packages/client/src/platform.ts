/**
 * The WebSocket implementation the client uses when `connect` is not given one. The
 * browser-safe entry uses `globalThis.WebSocket`; the Node entry (`node.ts`) registers
 * the `ws` package's, since Node 20 has no global WebSocket. Kept in a global slot so the
 * ESM and CJS builds loaded in one process agree.
 */

/**
 * What the client needs of a WebSocket: the browser's `WebSocket` and the `ws` package's
 * both fit. Text frames only.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  // Event parameters are `any`: the browser's and ws's event types differ, and both must fit.
  /* eslint-disable @typescript-eslint/no-explicit-any */
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  /* eslint-enable @typescript-eslint/no-explicit-any */
}

/** A WebSocket class: `new WebSocket(url)`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

const SLOT = Symbol.for('@koru/client.WebSocket');
const registry = globalThis as { [SLOT]?: WebSocketConstructor; WebSocket?: unknown };

/** Registers the platform's WebSocket (called by the Node entry). */
export function registerWebSocket(ctor: WebSocketConstructor): void {
  registry[SLOT] = ctor;
}

/** The registered WebSocket, else the global one, else undefined. */
export function defaultWebSocket(): WebSocketConstructor | undefined {
  const registered = registry[SLOT];
  if (registered !== undefined) return registered;
  return typeof registry.WebSocket === 'function' ? (registry.WebSocket as WebSocketConstructor) : undefined;
}
