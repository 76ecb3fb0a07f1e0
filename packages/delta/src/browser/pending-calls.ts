/**
 * A tab's calls to a shared database that have no answer yet (./session.ts), and the rules
 * of sending them: to whichever tab owns the database now, the calls of one turn posted
 * together (the worker starts them in one task, so concurrent writes share a commit), and
 * again to a new owner — reads always, writes only when the old owner cannot have run
 * them. A write that may have reached an owner that went away without answering rejects
 * with IO_ERROR saying its outcome is unknown: it is never run twice.
 */
import { IoError } from '@koru/storage/errors';
import type { KoruError } from '@koru/engine';
import { METHODS, type CallItem, type MethodName } from './protocol.js';
import { notCloneable } from './owner-worker.js';

/** One call waiting for its answer. */
export interface Call {
  readonly id: number;
  readonly method: MethodName;
  readonly args: readonly unknown[];
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  /** The owner it is for; undefined while there is none. */
  target: string | undefined;
  /** True once posted to `target` (until then, it cannot have run there). */
  sent: boolean;
  /** A read of this key's current version whose answer may fill the read cache. */
  readonly head?: readonly [namespace: string, key: string];
}

/** The error of a write that was in flight when the tab running the database went away. */
export function outcomeUnknown(method: string): KoruError {
  return new IoError(
    `${method}: the tab running the database closed or crashed while this write was in flight, so it may or may not have been stored; read it back before writing it again`,
    undefined,
    { method, outcome: 'unknown' },
  );
}

/** Posts calls to an owner (its worker, or its tab over the channel); throws what postMessage throws. */
export type PostCalls = (owner: string, calls: readonly CallItem[]) => void;

/** The calls without an answer, by id. */
export class PendingCalls {
  readonly #calls = new Map<number, Call>();
  /** Calls queued to be posted at the end of this turn. */
  #outbox: Call[] = [];
  readonly #post: PostCalls;

  constructor(post: PostCalls) {
    this.#post = post;
  }

  /** Adds `call` and sends it to `owner` (held until one is known when undefined). */
  add(call: Call, owner: string | undefined): void {
    this.#calls.set(call.id, call);
    this.#send(call, owner);
  }

  /** Takes out the call `id` answered (undefined: not one of these, or answered already). */
  take(id: number): Call | undefined {
    const call = this.#calls.get(id);
    if (call !== undefined) this.#calls.delete(id);
    return call;
  }

  /**
   * `owner` runs the database now: whatever has no answer goes to it, except a write
   * already sent elsewhere, which may have run there and rejects as of unknown outcome.
   */
  retarget(owner: string): void {
    for (const call of [...this.#calls.values()]) {
      if (call.target === owner) continue;
      if (call.sent && METHODS[call.method] === 'write') {
        this.#calls.delete(call.id);
        call.reject(outcomeUnknown(call.method));
      } else this.#send(call, owner);
    }
  }

  /**
   * The calls `ids` (all of them when undefined) were not run by their owner (it said
   * `bye`, or handed them back while closing): they wait for the next owner.
   */
  unsent(ids?: readonly number[]): void {
    const calls = ids === undefined ? [...this.#calls.values()] : ids.map((id) => this.#calls.get(id));
    for (const call of calls) {
      if (call === undefined) continue;
      call.target = undefined;
      call.sent = false;
    }
  }

  /** No owner can be reached any more: every call fails (a sent write as of unknown outcome). */
  failAll(error: unknown): void {
    for (const c of this.#calls.values()) c.reject(c.sent && METHODS[c.method] === 'write' ? outcomeUnknown(c.method) : error);
    this.#calls.clear();
  }

  /** Queues `call` for `owner`; the calls of one turn are posted together (see #flush). */
  #send(call: Call, owner: string | undefined): void {
    call.target = owner;
    call.sent = false;
    if (owner === undefined) return; // until an owner announces itself
    this.#outbox.push(call);
    if (this.#outbox.length === 1) queueMicrotask(() => this.#flush());
  }

  /**
   * Posts the queued calls, one message per owner. A call whose owner changed meanwhile
   * was sent again (or failed) by retarget, and is skipped here.
   */
  #flush(): void {
    // A call queued twice (its owner changed before the flush) is posted once, to its owner now.
    const queued = new Set(this.#outbox);
    this.#outbox = [];
    const byOwner = new Map<string, Call[]>();
    for (const c of queued) {
      if (c.sent || c.target === undefined || this.#calls.get(c.id) !== c) continue;
      const list = byOwner.get(c.target);
      if (list === undefined) byOwner.set(c.target, [c]);
      else list.push(c);
    }
    for (const [owner, calls] of byOwner) {
      // Something in the batch cannot be cloned: find it, send the rest.
      if (!this.#postCalls(owner, calls) && calls.length > 1) for (const c of calls) this.#postCalls(owner, [c]);
    }
  }

  /** Posts `calls` to `owner`; false (none sent) when they cannot be cloned, and a single call is then rejected. */
  #postCalls(owner: string, calls: readonly Call[]): boolean {
    try {
      this.#post(
        owner,
        calls.map((c) => ({ id: c.id, method: c.method, args: c.args })),
      );
    } catch (e) {
      if (calls.length === 1) {
        this.#calls.delete(calls[0]!.id);
        calls[0]!.reject(notCloneable(calls[0]!.method, e));
      }
      return false;
    }
    for (const c of calls) c.sent = true;
    return true;
  }
}
