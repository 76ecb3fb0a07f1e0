// A scripted WebSocket server for the client tests (not a test file itself): it speaks
// just enough of the protocol for a test to decide, message by message, what happens —
// answer, stay silent, or drop the socket — which a real server cannot be made to do
// at a precise moment.
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface Call {
  readonly id: number;
  readonly method: string;
  readonly params: unknown[];
}

/** What a script does with a call: `answer(result)`, `fail(error)`, or nothing. */
export type Script = (call: Call, socket: { answer(result: unknown): void; fail(code: string, message: string): void; drop(): void }) => void;

export class FakeServer {
  readonly calls: Call[] = [];
  readonly hellos: unknown[] = [];
  /** The first message a socket gets after its hello (default: a protocol 1 welcome). */
  welcome: (hello: unknown) => unknown = () => ({ type: 'welcome', protocol: 1, server: 'fake/0', node: 'fake-node', seq: 7 });
  script: Script = (call, s) => s.answer(null);
  readonly #wss: WebSocketServer;

  private constructor(wss: WebSocketServer) {
    this.#wss = wss;
    wss.on('connection', (ws: WebSocket) => {
      let welcomed = false;
      ws.on('message', (data) => {
        const msg = JSON.parse(data.toString()) as Call & { type?: string };
        if (!welcomed) {
          welcomed = true;
          this.hellos.push(msg);
          const w = this.welcome(msg);
          ws.send(typeof w === 'string' ? w : JSON.stringify(w));
          return;
        }
        this.calls.push(msg);
        this.script(msg, {
          answer: (result) => ws.send(JSON.stringify({ id: msg.id, result })),
          fail: (code, message) => ws.send(JSON.stringify({ id: msg.id, error: { code, message } })),
          drop: () => ws.terminate(),
        });
      });
    });
  }

  static async start(port = 0): Promise<FakeServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    return new FakeServer(wss);
  }

  get port(): number {
    return (this.#wss.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Sockets currently connected. */
  get sockets(): number {
    return this.#wss.clients.size;
  }

  /** Drops every connected socket (the server keeps listening). */
  dropAll(): void {
    for (const ws of this.#wss.clients) ws.terminate();
  }

  /** Stops listening and drops every socket. */
  close(): Promise<void> {
    this.dropAll();
    return new Promise((resolve) => this.#wss.close(() => resolve()));
  }
}
