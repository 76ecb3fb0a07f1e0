/**
 * Hybrid logical clock. A stamp is (wall ms, logical counter); `tick()` is strictly
 * increasing even when the wall clock steps back, and `receive()` folds in a remote
 * stamp so causally later events always get larger stamps. Stamps format to a
 * fixed-width string that sorts lexicographically in clock order:
 * `WWWWWWWWWWWWWWW-LLLLLL` (15-digit wall ms, 6-digit counter).
 */
import { InvalidArgumentError } from './errors.js';

/** One clock reading. */
export interface HlcStamp {
  readonly wall: number;
  readonly logical: number;
}

/** Largest logical counter; one more moves the wall part forward by 1 ms instead. */
export const HLC_MAX_LOGICAL = 999_999;

/** The clock's source of wall time in ms since the epoch (injectable for tests). */
export type WallClock = () => number;

/** A hybrid logical clock. Not shared across processes: one per node. */
export class HybridClock {
  #now: WallClock;
  #wall = 0;
  #logical = 0;

  constructor(now: WallClock = Date.now, last?: HlcStamp) {
    this.#now = now;
    if (last) {
      this.#wall = last.wall;
      this.#logical = last.logical;
    }
  }

  /** The last stamp issued (or restored). */
  get last(): HlcStamp {
    return { wall: this.#wall, logical: this.#logical };
  }

  /** A stamp strictly greater than every stamp issued or received so far. */
  tick(): HlcStamp {
    const pt = Math.floor(this.#now());
    if (pt > this.#wall) {
      this.#wall = pt;
      this.#logical = 0;
    } else this.#bump();
    return { wall: this.#wall, logical: this.#logical };
  }

  /** Folds in a remote stamp; returns a local stamp greater than it and than all before. */
  receive(remote: HlcStamp): HlcStamp {
    const pt = Math.floor(this.#now());
    const wall = Math.max(pt, this.#wall, remote.wall);
    if (wall === this.#wall && wall === remote.wall) {
      this.#logical = Math.max(this.#logical, remote.logical);
      this.#bump();
    } else if (wall === this.#wall) this.#bump();
    else if (wall === remote.wall) {
      this.#wall = wall;
      this.#logical = remote.logical;
      this.#bump();
    } else {
      this.#wall = wall;
      this.#logical = 0;
    }
    return { wall: this.#wall, logical: this.#logical };
  }

  /** Makes sure later stamps exceed `seen` (used when reopening a database). */
  observe(seen: HlcStamp): void {
    if (compareHlc(seen, { wall: this.#wall, logical: this.#logical }) > 0) {
      this.#wall = seen.wall;
      this.#logical = seen.logical;
    }
  }

  #bump(): void {
    if (this.#logical >= HLC_MAX_LOGICAL) {
      this.#wall += 1;
      this.#logical = 0;
    } else this.#logical += 1;
  }
}

/** Orders stamps: negative, zero or positive. */
export function compareHlc(a: HlcStamp, b: HlcStamp): number {
  return a.wall !== b.wall ? a.wall - b.wall : a.logical - b.logical;
}

const PAD_WALL = '000000000000000';
const PAD_LOGICAL = '000000';

/** `WWWWWWWWWWWWWWW-LLLLLL`: sorts as the clock does. */
export function formatHlc(s: HlcStamp): string {
  const w = String(s.wall);
  const l = String(s.logical);
  return PAD_WALL.slice(w.length) + w + '-' + PAD_LOGICAL.slice(l.length) + l;
}

const HLC_FORM = /^(\d{15})-(\d{6})$/;

/** Parses {@link formatHlc}'s form. @throws InvalidArgumentError */
export function parseHlc(text: string): HlcStamp {
  const m = HLC_FORM.exec(text);
  if (!m) throw new InvalidArgumentError(`not a hybrid logical clock stamp: ${JSON.stringify(text)}`);
  return { wall: Number(m[1]), logical: Number(m[2]) };
}
