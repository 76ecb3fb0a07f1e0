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
}

/** Colour functions: real ones on a terminal without NO_COLOR, identity otherwise. */
export type Colors = ReturnType<typeof createColors>;

/** Colours for `out`: only on a TTY, never with `NO_COLOR` set (https://no-color.org) or for JSON. */
export function colorsFor(out: Output, env: Io['env'], json: boolean): Colors {
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  return createColors(out.isTTY === true && !noColor && !json);
}

/** The process's own streams. */
export function processIo(): Io {
  return {
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
