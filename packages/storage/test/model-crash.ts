// The storage model test's crash command (model.node.test.ts): the store is closed here
// and opened in a child process (model-child.ts), which runs writes and maybe a
// compaction and is killed with SIGKILL at a chosen point: a random while after its last
// write was acknowledged (flushes and merges of the 2 KiB memtables running in its
// workers), with one write in flight, or at a random moment of `compact()` (spread over
// its measured length). Then the store is opened here again and must agree with the
// model: every acknowledged write there (unless retention may have cut it), the write in
// flight there at most once, verify() clean.
import type { JsonValue } from '@koru/engine';
import type fc from 'fast-check';
import { expect } from 'vitest';
import { ChildStore, orphanSegments, type ChildWrite } from './model-child.js';
import { advance, checkWhole, id, live, plain, record, type Model, type Real } from './model-state.js';

/** Opens the store again into `r` (the model test's options). */
export type Reopen = (r: Real) => Promise<void>;

/** Where the kills landed (printed at the end of the test; kills during a compaction are required). */
export const crashStats = { afterWrite: 0, writeInFlight: 0, duringCompact: 0, afterCompact: 0, orphanSegments: 0, compactMs: 0 };

/**
 * A running estimate of how long the child's `compact()` takes (ms), to spread kills over
 * it; the compactions let finish (fraction ≥ 1) teach it their time.
 */
let compactMs = 100;

/** Where the child is killed. */
export type KillPoint =
  | { readonly at: 'afterWrite'; readonly delayMs: number }
  | { readonly at: 'writeInFlight'; readonly delayMs: number }
  | { readonly at: 'compact'; readonly fraction: number };

/** Writes in a child process, then kill -9 (see the module doc). */
export class CrashCmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly writes: ReadonlyArray<{ readonly ns: string; readonly key: string; readonly value: JsonValue | undefined }>,
    readonly kill: KillPoint,
    readonly dt: number,
    readonly namespaces: readonly string[],
    readonly reopen: Reopen,
    readonly memtableBytes: number,
  ) {}
  check = (): boolean => true;

  async run(m: Model, r: Real): Promise<void> {
    advance(m, r, this.dt);
    await r.s.close();
    const child = await ChildStore.start(r.dir, m.now, this.memtableBytes);
    let inFlight: ChildWrite | undefined;
    let acked = (): boolean => false;
    try {
      const kill = this.kill;
      const last = kill.at === 'writeInFlight' ? this.writes.length - 1 : this.writes.length;
      for (let i = 0; i < last; i++) {
        const w = this.#valid(m, i);
        if (w !== undefined) record(m, await child.write(w), plain(w.value), w.op === 'delete');
      }
      if (kill.at === 'writeInFlight') {
        inFlight = this.#valid(m, last);
        if (inFlight !== undefined) acked = child.sendWrite(inFlight);
        await new Promise((resolve) => setTimeout(resolve, kill.delayMs));
        crashStats.writeInFlight++;
      } else if (kill.at === 'compact') {
        const c = child.compact();
        await c.started;
        if (kill.fraction >= 1) {
          // Let this one finish: its time spreads the next kills over a compaction.
          const ms = await c.finished;
          crashStats.compactMs = compactMs = Math.round((compactMs + ms) / 2);
        } else await new Promise((resolve) => setTimeout(resolve, kill.fraction * compactMs));
        if (c.done()) crashStats.afterCompact++;
        else crashStats.duringCompact++;
      } else {
        // Flushes and merges the writes started run meanwhile (a new worker takes a while to start).
        await new Promise((resolve) => setTimeout(resolve, kill.delayMs));
        crashStats.afterWrite++;
      }
    } finally {
      await child.kill();
    }
    const inFlightAcked = acked();
    crashStats.orphanSegments += orphanSegments(r.dir);
    await this.reopen(r);
    // The write in flight is there (the newest of its key, so no merge cut it) or not;
    // surely there when its acknowledgement came before the kill.
    if (inFlightAcked) expect(r.s.seq, 'an acknowledged write is lost').toBe(m.seq + 1);
    if (inFlight !== undefined && r.s.seq === m.seq + 1) {
      const h = r.s.history(inFlight.ns, inFlight.key);
      record(m, h[h.length - 1]!, plain(inFlight.value), inFlight.op === 'delete');
    }
    await checkWhole(m, r, this.namespaces);
  }

  /** The i-th write, as the child runs it (a delete only of a live key). */
  #valid(m: Model, i: number): ChildWrite | undefined {
    const { ns, key, value } = this.writes[i]!;
    if (value !== undefined) return { op: 'put', ns, key, value };
    return live(m.keys.get(id(ns, key))) ? { op: 'delete', ns, key, value: null } : undefined;
  }

  toString = (): string =>
    `crash(${this.writes.map((w) => `${w.value === undefined ? 'delete' : 'put'}(${w.ns}, ${w.key}${w.value === undefined ? '' : `, ${JSON.stringify(w.value)}`})`).join(', ')}; kill ${JSON.stringify(this.kill)}, +${this.dt}ms)`;
}
