/**
 * A small TCP proxy in front of one cluster member, for the partition row. The member is
 * started with `--advertise 127.0.0.1:<proxy port>`, so every cluster link dialed to it
 * runs through its proxy; clients (the bench's writers) connect to the member directly.
 *
 * A proxy cannot tell from the TCP connection who is dialing (every member dials from
 * 127.0.0.1), so it reads the first WebSocket text frame the dialer sends after the HTTP
 * upgrade: the cluster handshake's `hello`, which carries `"node":"<id>"`. Client frames
 * are masked (RFC 6455 §5.2: 7-, 16- or 64-bit length, 4-byte mask). Bytes from the
 * dialer are held from the end of the HTTP head until that frame is complete; then the
 * connection is refused (destroyed) if the {@link Partition} separates the dialer from
 * this proxy's member, or the held bytes are sent on and the two sockets are piped. The
 * member's side (the 101 answer, the `challenge`) is piped from the start.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** Which members may talk: none separated, or groups of node ids (members in no group are reachable by all). */
export class Partition {
  #groupOf: Map<string, number> | undefined;
  readonly #proxies = new Set<ClusterProxy>();

  /** True when `dialer` may reach `member`. */
  allows(dialer: string, member: string): boolean {
    const g = this.#groupOf;
    if (g === undefined) return true;
    const a = g.get(dialer);
    const b = g.get(member);
    return a === undefined || b === undefined || a === b;
  }

  /** Separates the groups: connections between them are closed now and refused from now on. Returns how many were closed. */
  cut(groups: readonly (readonly string[])[]): number {
    this.#groupOf = new Map(groups.flatMap((members, i) => members.map((m) => [m, i] as const)));
    let closed = 0;
    for (const p of this.#proxies) closed += p.enforce();
    return closed;
  }

  /** Lifts the partition: new connections pass again (links are redialed by the members). */
  heal(): void {
    this.#groupOf = undefined;
  }

  /** @internal */
  register(p: ClusterProxy): void {
    this.#proxies.add(p);
  }
}

/** Counters of one proxy. */
export interface ProxyStats {
  accepted: number;
  identified: number;
  /** identified and refused because of the partition */
  refused: number;
  /** closed by a cut */
  cut: number;
  /** closed before the dialer was identified (other side hung up, or not a cluster hello) */
  unidentified: number;
}

const MAX_HEAD = 16 * 1024;
const MAX_HELLO = 64 * 1024;

interface Conn {
  readonly client: Socket;
  readonly upstream: Socket;
  dialer: string | undefined;
}

/**
 * Finds the first text frame after the HTTP head in `buf` (client → server bytes).
 * Returns `'more'` while incomplete, the unmasked payload once complete, or `'bad'`.
 */
function firstTextFrame(buf: Buffer): string | 'more' | 'bad' {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return buf.length > MAX_HEAD ? 'bad' : 'more';
  let at = headEnd + 4;
  // Skip control frames (ping, pong) a client might send first.
  for (;;) {
    if (buf.length < at + 2) return 'more';
    const opcode = buf[at]! & 0x0f;
    const masked = (buf[at + 1]! & 0x80) !== 0;
    let len = buf[at + 1]! & 0x7f;
    let p = at + 2;
    if (len === 126) {
      if (buf.length < p + 2) return 'more';
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (buf.length < p + 8) return 'more';
      const big = buf.readBigUInt64BE(p);
      if (big > BigInt(MAX_HELLO)) return 'bad';
      len = Number(big);
      p += 8;
    }
    if (len > MAX_HELLO) return 'bad';
    const mask = masked ? buf.subarray(p, p + 4) : undefined;
    if (masked) p += 4;
    if (buf.length < p + len) return 'more';
    if (opcode === 0x1) {
      const payload = Buffer.from(buf.subarray(p, p + len));
      if (mask !== undefined) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
      return payload.toString('utf8');
    }
    if (opcode < 0x8) return 'bad'; // a binary or continuation frame first: not a cluster hello
    at = p + len;
  }
}

/** A proxy listening on 127.0.0.1 (port chosen by the system) in front of one member. */
export class ClusterProxy {
  readonly stats: ProxyStats = { accepted: 0, identified: 0, refused: 0, cut: 0, unidentified: 0 };
  /** The member's port: set once it is known (connections wait until then). */
  targetPort: number | undefined;
  /** The member's node id: set once it is known (until then nothing is refused). */
  member: string | undefined;
  readonly #server: Server;
  readonly #partition: Partition;
  readonly #conns = new Set<Conn>();
  #port = 0;

  private constructor(partition: Partition) {
    this.#partition = partition;
    this.#server = createServer((client) => this.#accept(client));
    partition.register(this);
  }

  static async start(partition: Partition): Promise<ClusterProxy> {
    const p = new ClusterProxy(partition);
    await new Promise<void>((resolve, reject) => {
      p.#server.once('error', reject);
      p.#server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = p.#server.address();
    p.#port = typeof address === 'object' && address !== null ? address.port : 0;
    return p;
  }

  get port(): number {
    return this.#port;
  }

  /** `host:port` to advertise. */
  get address(): string {
    return `127.0.0.1:${this.#port}`;
  }

  /** Identified connections open now. */
  get open(): number {
    let n = 0;
    for (const c of this.#conns) if (c.dialer !== undefined) n++;
    return n;
  }

  /** Closes the connections the partition no longer allows; returns how many. */
  enforce(): number {
    let n = 0;
    for (const c of [...this.#conns]) {
      if (c.dialer === undefined || this.member === undefined || this.#partition.allows(c.dialer, this.member)) continue;
      this.stats.cut++;
      n++;
      this.#drop(c);
    }
    return n;
  }

  async close(): Promise<void> {
    for (const c of [...this.#conns]) this.#drop(c);
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #drop(c: Conn): void {
    this.#conns.delete(c);
    c.client.destroy();
    c.upstream.destroy();
  }

  #accept(client: Socket): void {
    this.stats.accepted++;
    if (this.targetPort === undefined) {
      client.destroy();
      return;
    }
    client.setNoDelay(true);
    const upstream = connect(this.targetPort, '127.0.0.1');
    upstream.setNoDelay(true);
    const c: Conn = { client, upstream, dialer: undefined };
    this.#conns.add(c);
    const end = (): void => {
      if (!this.#conns.has(c)) return;
      if (c.dialer === undefined) this.stats.unidentified++;
      this.#drop(c);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    upstream.pipe(client);

    // Client → member: the HTTP head goes on at once; what follows is held until the hello is read.
    let held: Buffer = Buffer.alloc(0);
    let sentHead = 0;
    const onData = (chunk: Buffer): void => {
      held = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
      const headEnd = held.indexOf('\r\n\r\n');
      if (headEnd >= 0 && sentHead === 0) {
        sentHead = headEnd + 4;
        upstream.write(held.subarray(0, sentHead));
      }
      const frame = firstTextFrame(held);
      if (frame === 'more') return;
      client.off('data', onData);
      const dialer = frame === 'bad' ? undefined : /"node":"((?:[^"\\]|\\.)*)"/.exec(frame)?.[1];
      if (dialer === undefined) return end();
      c.dialer = dialer;
      this.stats.identified++;
      if (this.member !== undefined && !this.#partition.allows(dialer, this.member)) {
        this.stats.refused++;
        this.#drop(c);
        return;
      }
      upstream.write(held.subarray(sentHead));
      held = Buffer.alloc(0);
      client.pipe(upstream);
    };
    client.on('data', onData);
  }
}
