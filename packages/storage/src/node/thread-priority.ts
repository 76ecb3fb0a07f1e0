/**
 * Background threads (flushes, merges) at a lower CPU priority than the event loop.
 *
 * Why: a flush or merge keeps a core fully busy for hundreds of ms to seconds, and a
 * cluster's members flush and merge at about the same moments (they hold the same
 * writes). On a machine whose cores the event loops already keep busy, those threads at
 * the same priority take their fair share from the event loops: commits, replication and
 * change events then wait in the run queue for the length of the job (measured: stalls of
 * 0.2–1.8 s on the members' event loops, 70–80% of them spent runnable but not running
 * while the flush workers ran). At a lower priority the kernel runs the event loop as
 * soon as it has work, and the job uses the rest.
 *
 * Linux keeps a nice value per thread and takes a thread id where `setpriority` takes a
 * process id; `/proc/thread-self` names the calling thread's id. Elsewhere (macOS,
 * Windows: a thread id there is no process id, and setting it could renice another
 * process) nothing is changed.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/** The nice value of a thread that flushes memtables: writes wait for it when memtables pile up, so only a little lower. */
export const FLUSH_NICE = 5;
/**
 * The nice value of a thread that merges segments: writes wait for it only once level 0
 * holds 12 files. Measured on two cores (three cluster members at 5,000 writes/s): merges
 * at 10 gave a replication lag p99 of 333–587 ms in four runs, at 5 682–780 ms in three.
 * The price: under a heavy load merges fall behind (level 0 held 9 files instead of 5
 * at its end in some runs), and reads right after it are up to 20–40% slower until
 * they catch up.
 */
export const MERGE_NICE = 10;

let cachedTid: number | null | undefined;

/** The calling thread's kernel id (Linux), or undefined where it cannot be known. */
export function threadId(): number | undefined {
  if (cachedTid === undefined) {
    cachedTid = null;
    try {
      // "PID/task/TID", PID being this process's.
      const m = /^(\d+)\/task\/(\d+)$/.exec(readlinkSync('/proc/thread-self'));
      if (m !== null && Number(m[1]) === process.pid) cachedTid = Number(m[2]);
    } catch {
      // No /proc/thread-self: not Linux (or Linux before 3.17).
    }
  }
  return cachedTid ?? undefined;
}

/** The nice value of thread `tid` of this process (Linux), or undefined when it cannot be read. */
export function threadNice(tid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // After "pid (comm) ": the command may hold spaces and parentheses, so split after the last ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Field 19 of stat(5) is the nice value; fields[0] is field 3.
    const nice = Number(fields[16]);
    return Number.isInteger(nice) ? nice : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Lowers the calling thread's CPU priority to `nice` (−20…19, higher is lower), never
 * raising it (that needs privileges: a thread once lowered stays at least that low).
 * Returns the thread's nice value after the call, or undefined where a thread's priority
 * cannot be set (not Linux). A refusal by the kernel leaves the priority as it was.
 */
export function lowerThreadPriority(nice: number): number | undefined {
  if (!Number.isInteger(nice) || nice < -20 || nice > 19) throw new RangeError(`a nice value is an integer from -20 to 19, not ${String(nice)}`);
  const tid = threadId();
  if (tid === undefined) return undefined;
  const now = threadNice(tid);
  if (now === undefined) return undefined;
  if (now >= nice) return now;
  try {
    setPriority(tid, nice);
  } catch {
    // Refused (a sandbox, a seccomp filter): the job runs at the priority it has.
    return now;
  }
  return threadNice(tid) ?? now;
}
