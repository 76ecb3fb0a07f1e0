/**
 * Connection slots. Every connection starts *pending*: it has not yet shown the server
 * a request that passed authentication (HTTP) or a welcomed hello (WebSocket). Pending
 * connections cost the attacker nothing (a socket that sends no byte, a header byte every
 * few seconds, an upgrade with no hello), so they get their own small budget: when it is
 * full, or when their address or the whole server is at its cap, the oldest pending
 * connection is cut off to make room for the newcomer. A proven connection is never cut
 * off for a newcomer. So a flood of pending connections, even from the loopback address
 * every local client shares, cannot lock out clients that authenticate: they are served
 * within a round trip of connecting, before the flood can push them out.
 */
import type { Socket } from 'node:net';
import { ErrorCodes } from '@koru/delta';

/** The limits of {@link ConnectionSlots}. */
export interface SlotLimits {
  /** Most simultaneous connections. */
  readonly maxConnections: number;
  /** Most simultaneous connections from one remote address. */
  readonly maxConnectionsPerAddress: number;
  /** Most simultaneous connections that have not yet authenticated. */
  readonly maxPendingConnections: number;
  /**
   * A connection that has not authenticated this long after connecting is closed (Node
   * times out slow headers, but not a connection that sends nothing at all). WebSockets
   * are left to their hello deadline, which closes them with a reason.
   */
  readonly pendingTimeoutMs: number;
}

interface Slot {
  readonly address: string;
  readonly since: number;
  pending: boolean;
  upgraded: boolean;
}

/** Counts connections by address and state, and decides who gets a slot. */
export class ConnectionSlots {
  readonly #slots = new Map<Socket, Slot>();
  /** Pending sockets, oldest first (a Set keeps insertion order). */
  readonly #pending = new Set<Socket>();
  readonly #perAddress = new Map<string, { all: number; pending: Set<Socket> }>();
  /** Connections cut off to make room for a newcomer, since the start. */
  evicted = 0;

  #sweeper: NodeJS.Timeout | undefined;

  constructor(readonly limits: SlotLimits) {}

  /** Open connections. */
  get size(): number {
    return this.#slots.size;
  }

  /** Connections that have not yet authenticated. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * A new connection: gives it a pending slot, cutting off the oldest pending connection
   * when a budget is full; refuses it (503 `TOO_MANY_CONNECTIONS`, then closed) when only
   * proven connections hold the slots it needs.
   */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '?';
    let mine = this.#perAddress.get(address);
    const { maxConnections, maxConnectionsPerAddress, maxPendingConnections } = this.limits;
    if (mine !== undefined && mine.all >= maxConnectionsPerAddress) {
      const victim = first(mine.pending);
      if (victim === undefined) return refuse(socket, `the server allows ${maxConnectionsPerAddress} connections from one address`);
      this.#evict(victim);
    }
    if (this.#pending.size >= maxPendingConnections) this.#evict(first(this.#pending)!);
    if (this.#slots.size >= maxConnections) {
      const victim = first(this.#pending);
      if (victim === undefined) return refuse(socket, `the server allows ${maxConnections} connections`);
      this.#evict(victim);
    }
    if (mine === undefined) {
      mine = { all: 0, pending: new Set() };
      this.#perAddress.set(address, mine);
    }
    mine.all++;
    mine.pending.add(socket);
    this.#pending.add(socket);
    this.#slots.set(socket, { address, since: Date.now(), pending: true, upgraded: false });
    socket.once('close', () => this.#release(socket));
    if (this.#sweeper === undefined) {
      this.#sweeper = setInterval(() => this.#sweep(), Math.min(1_000, this.limits.pendingTimeoutMs));
      this.#sweeper.unref();
    }
    return true;
  }

  /** The connection became a WebSocket: its hello deadline applies from now on. */
  upgraded(socket: Socket): void {
    const slot = this.#slots.get(socket);
    if (slot !== undefined) slot.upgraded = true;
  }

  /** Closes every connection that has not authenticated (they have no call in flight) and stops the sweeper. */
  closePending(): void {
    clearInterval(this.#sweeper);
    for (const socket of [...this.#pending]) if (!this.#slots.get(socket)!.upgraded) socket.destroy();
  }

  #sweep(): void {
    const deadline = Date.now() - this.limits.pendingTimeoutMs;
    // Oldest first: stop at the first one still in time.
    for (const socket of this.#pending) {
      const slot = this.#slots.get(socket)!;
      if (slot.since > deadline) break;
      if (!slot.upgraded) socket.destroy();
    }
    if (this.#slots.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  /** The connection authenticated: it keeps its slot from now on. */
  prove(socket: Socket | undefined): void {
    const slot = socket === undefined ? undefined : this.#slots.get(socket);
    if (slot === undefined || !slot.pending) return;
    slot.pending = false;
    this.#pending.delete(socket!);
    this.#perAddress.get(slot.address)?.pending.delete(socket!);
  }

  /** Whether a connection is still pending (tests and metrics). */
  isPending(socket: Socket): boolean {
    return this.#slots.get(socket)?.pending === true;
  }

  #evict(socket: Socket): void {
    this.evicted++;
    this.#release(socket);
    socket.destroy();
  }

  #release(socket: Socket): void {
    const slot = this.#slots.get(socket);
    if (slot === undefined) return;
    this.#slots.delete(socket);
    this.#pending.delete(socket);
    const mine = this.#perAddress.get(slot.address);
    if (mine === undefined) return;
    mine.all--;
    mine.pending.delete(socket);
    if (mine.all === 0) this.#perAddress.delete(slot.address);
  }
}

function first(set: Set<Socket>): Socket | undefined {
  for (const s of set) return s;
  return undefined;
}

/** Past a limit, say so in one response rather than dropping silently. */
function refuse(socket: Socket, message: string): false {
  const body = JSON.stringify({ error: { code: ErrorCodes.TOO_MANY_CONNECTIONS, message } });
  socket.end(`HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  return false;
}
