/**
 * Hybrid logical clock. A stamp is (wall ms, logical counter); `tick()` is strictly
 * increasing even when the wall clock steps back, and `receive()` folds in a remote
 * stamp so causally later events always get larger stamps. Stamps format to a
 * fixed-width string that sorts lexicographically in clock order:
 * `WWWWWWWWWWWWWWW-LLLLLL` (15-digit wall ms, 6-digit counter).
 */
import { ClockSkewError, InvalidArgumentError } from './errors.js';

/** One clock reading. */
export interface HlcStamp {
  readonly wall: number;
  readonly logical: number;
}

/** Largest logical counter; one more moves the wall part forward by 1 ms instead. */
export const HLC_MAX_LOGICAL = 999_999;
/**
 * Largest wall part the 15-digit form holds (year 33658). The clock never goes past it:
 * a stamp it could not format and parse back would make the database unopenable.
 */
export const HLC_MAX_WALL = 999_999_999_999_999;

/** The clock cannot advance: it is at the end of the stamp format. */
function exhausted(what: string): ClockSkewError {
  return new ClockSkewError(`the clock cannot advance past ${what}: the end of the stamp format (a stamp that far ahead must not have been accepted)`, {
    details: { maxWall: HLC_MAX_WALL },
  });
}

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

  /**
   * A stamp strictly greater than every stamp issued or received so far.
   * @throws CLOCK_SKEW when that would be past the end of the format (nothing changes)
   */
  tick(): HlcStamp {
    const pt = Math.floor(this.#now());
    return pt > this.#wall ? this.#set(pt, 0) : this.#set(this.#wall, this.#logical + 1);
  }

  /**
   * Folds in a remote stamp; returns a local stamp greater than it and than all before.
   * @throws CLOCK_SKEW when that would be past the end of the format (nothing changes)
   */
  receive(remote: HlcStamp): HlcStamp {
    const pt = Math.floor(this.#now());
    const wall = Math.max(pt, this.#wall, remote.wall);
    if (wall === this.#wall && wall === remote.wall) return this.#set(wall, Math.max(this.#logical, remote.logical) + 1);
    if (wall === this.#wall) return this.#set(wall, this.#logical + 1);
    if (wall === remote.wall) return this.#set(wall, remote.logical + 1);
    return this.#set(wall, 0);
  }

  /**
   * Makes sure later stamps exceed `seen` (used when reopening a database). A `seen` at
   * the very end of the format is kept: the next `tick` then refuses, rather than
   * issuing a stamp nothing can parse.
   */
  observe(seen: HlcStamp): void {
    if (compareHlc(seen, { wall: this.#wall, logical: this.#logical }) > 0) {
      this.#wall = seen.wall;
      this.#logical = seen.logical;
    }
  }

  /** Moves the clock to (wall, logical), a counter past its maximum carrying into the wall part. */
  #set(wall: number, logical: number): HlcStamp {
    if (logical > HLC_MAX_LOGICAL) {
      wall += 1;
      logical = 0;
    }
    if (!(wall <= HLC_MAX_WALL)) throw exhausted(formatHlcLoose({ wall: wall - 1, logical: HLC_MAX_LOGICAL }));
    this.#wall = wall;
    this.#logical = logical;
    return { wall, logical };
  }
}

/** Orders stamps: negative, zero or positive. */
export function compareHlc(a: HlcStamp, b: HlcStamp): number {
  return a.wall !== b.wall ? a.wall - b.wall : a.logical - b.logical;
}

const PAD_WALL = '000000000000000';
const PAD_LOGICAL = '000000';

/**
 * `WWWWWWWWWWWWWWW-LLLLLL`: sorts as the clock does; {@link parseHlc} reads back every
 * string it gives. @throws INVALID_ARGUMENT for a stamp outside the format's range
 */
export function formatHlc(s: HlcStamp): string {
  if (!(s.wall >= 0 && s.wall <= HLC_MAX_WALL && s.logical >= 0 && s.logical <= HLC_MAX_LOGICAL)) {
    throw new InvalidArgumentError(`clock stamp ${formatHlcLoose(s)} is outside the stamp format (wall 0–${HLC_MAX_WALL}, counter 0–${HLC_MAX_LOGICAL})`);
  }
  return formatHlcLoose(s);
}

/** The same form without the range check (for messages). */
function formatHlcLoose(s: HlcStamp): string {
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
