/**
 * What a command run touches outside itself: its streams, environment and working
 * directory. The binary passes the process's; tests can pass their own.
 */
import { createColors } from 'picocolors';

/** A writable stream as the CLI uses it. */
export interface Output {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** The world of one CLI run. */
export interface Io {
  readonly stdout: Output;
  readonly stderr: Output;
  /** Reads all of standard input (for `-` arguments). */
  readonly readStdin: () => Promise<string>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /**
   * Aborted when whoever reads stdout has gone (EPIPE: `kdelta log … | head -1`). The
   * command then stops quietly with exit 0, as a C tool killed by SIGPIPE would.
   */
  readonly stdoutClosed?: AbortSignal;
}

/** Colour functions: real ones on a terminal without NO_COLOR, identity otherwise. */
export type Colors = ReturnType<typeof createColors>;

/** Colours for `out`: only on a TTY, never with `NO_COLOR` set (https://no-color.org) or for JSON. */
export function colorsFor(out: Output, env: Io['env'], json: boolean): Colors {
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  return createColors(out.isTTY === true && !noColor && !json);
}

/**
 * The process's own streams. A reader of stdout that goes away (EPIPE) aborts
 * `stdoutClosed` instead of crashing the process with an unhandled 'error' event.
 */
export function processIo(): Io {
  const closed = new AbortController();
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') return closed.abort();
    process.stderr.write(`kdelta: cannot write to standard output: ${e.code ?? e.message}\n`);
    process.exit(1);
  });
  // Nobody is left to tell about a closed stderr.
  process.stderr.on('error', () => {});
  return {
    stdoutClosed: closed.signal,
    stdout: process.stdout,
    stderr: process.stderr,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    env: process.env,
    cwd: process.cwd(),
  };
}
