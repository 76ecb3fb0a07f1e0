/**
 * What the cluster needs from a network and a clock, so the same node logic runs over
 * WebSockets in production and over a seeded, simulated network in tests.
 */

/** One open connection carrying text frames, and binary ones when the transport has them. */
export interface RawLink {
  send(frame: string): void;
  /** Sends a binary frame; absent on transports that carry text only (bytes then travel as base64 text). */
  sendBinary?(frame: Uint8Array): void;
  close(): void;
  /**
   * Closes once the frames already sent have gone out (a refusal must reach the peer
   * before the link drops); transports without it are closed at once.
   */
  end?(): void;
  /** Bytes sent but not yet handed to the network (for flow control). */
  readonly buffered: number;
}

/** What a link reports. `onOpen` only for dialed links (accepted ones are open already). */
export interface LinkHandlers {
  onOpen(): void;
  onFrame(frame: string): void;
  /** A binary frame (transports that carry them); without this handler one closes the link. */
  onBinary?(frame: Uint8Array): void;
  onClose(reason: string): void;
}

/** A network: dial out by address, accept incoming links. */
export interface Transport {
  /** Starts connecting to `address` (`host:port`); the handlers report what happens. */
  dial(address: string, handlers: LinkHandlers): RawLink;
  /** From now on, each incoming link is given to `accept`, which returns its handlers. */
  listen(accept: (link: RawLink) => LinkHandlers): void;
  /** Stops accepting and closes every link. */
  close(): Promise<void>;
}

/** Time and timers. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The process's own clock and timers (timers do not keep the process alive). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};
