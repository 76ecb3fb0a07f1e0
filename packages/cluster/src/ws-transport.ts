/**
 * The cluster over WebSockets (the ws package): peers dial `ws://host:port/v1/cluster`;
 * the HTTP server of a node hands upgrades of that path to {@link WsTransport.upgrade}.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import type { LinkHandlers, RawLink, Transport } from './transport.js';

/** The path peers connect to. */
export const CLUSTER_PATH = '/v1/cluster';

/** Options of {@link WsTransport}. */
export interface WsTransportOptions {
  /** Largest frame accepted (default 64 MiB): a larger one closes the link. */
  readonly maxFrameBytes?: number;
}

function wrap(ws: WebSocket): RawLink {
  return {
    send: (frame) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(frame);
    },
    sendBinary: (frame) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(frame, { binary: true });
    },
    close: () => ws.terminate(),
    end: () => {
      // A closing handshake goes out after the queued frames; a peer that does not answer
      // it is cut off soon after.
      ws.close(1008);
      setTimeout(() => ws.terminate(), 2_000).unref();
    },
    get buffered() {
      return ws.bufferedAmount;
    },
  };
}

function attach(ws: WebSocket, h: LinkHandlers): void {
  let closed = false;
  const close = (reason: string): void => {
    if (closed) return;
    closed = true;
    h.onClose(reason);
  };
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      if (h.onBinary === undefined) {
        ws.terminate();
        close('binary frame');
        return;
      }
      // binaryType is 'nodebuffer': one Buffer per message, however it was fragmented.
      h.onBinary(data as Buffer);
      return;
    }
    h.onFrame(data.toString());
  });
  ws.on('close', (code) => close(`closed (${code})`));
  ws.on('error', (e) => {
    ws.terminate();
    close(e.message);
  });
}

/** WebSocket links between cluster nodes. */
export class WsTransport implements Transport {
  readonly #wss: WebSocketServer;
  readonly #maxFrameBytes: number;
  readonly #sockets = new Set<WebSocket>();
  #accept: ((link: RawLink) => LinkHandlers) | undefined;

  constructor(options: WsTransportOptions = {}) {
    this.#maxFrameBytes = options.maxFrameBytes ?? 64 * 1024 * 1024;
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: this.#maxFrameBytes, perMessageDeflate: false });
  }

  dial(address: string, handlers: LinkHandlers): RawLink {
    const ws = new WebSocket(`ws://${address}${CLUSTER_PATH}`, { maxPayload: this.#maxFrameBytes, perMessageDeflate: false, handshakeTimeout: 4_000 });
    this.#track(ws);
    ws.on('open', () => handlers.onOpen());
    attach(ws, handlers);
    return wrap(ws);
  }

  listen(accept: (link: RawLink) => LinkHandlers): void {
    this.#accept = accept;
  }

  /** Takes an HTTP upgrade of {@link CLUSTER_PATH}; returns false (leaving the socket alone) for any other path. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if ((req.url ?? '').split('?')[0] !== CLUSTER_PATH) return false;
    const accept = this.#accept;
    if (accept === undefined) {
      socket.destroy();
      return true;
    }
    // Browsers send Origin on every WebSocket; members never do. A page the user visits
    // must not reach the cluster door of a server on their machine (no key on loopback).
    if (req.headers.origin !== undefined) {
      const body = JSON.stringify({ error: { code: 'FORBIDDEN', message: 'cluster links are not open to browsers' } });
      socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      return true;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      this.#track(ws);
      attach(ws, accept(wrap(ws)));
    });
    return true;
  }

  async close(): Promise<void> {
    this.#accept = undefined;
    for (const ws of this.#sockets) ws.terminate();
    this.#sockets.clear();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  #track(ws: WebSocket): void {
    this.#sockets.add(ws);
    ws.on('close', () => this.#sockets.delete(ws));
  }
}
