/**
 * The kdelta program: global options, the commands, and how failures become one line
 * and an exit code (0 success; 1 not found or failed; 2 usage or input error).
 */
import { createRequire } from 'node:module';
import { ErrorCodes, isKoruError } from '@koru/delta';
import { Command, CommanderError } from 'commander';
import { register as registerCluster } from './commands/cluster.js';
import { register as registerData } from './commands/data.js';
import { register as registerQuery } from './commands/query.js';
import { register as registerRetention } from './commands/retention.js';
import type { Act } from './commands/register.js';
import { register as registerTransfer } from './commands/transfer.js';
import { register as registerWatch } from './commands/watch.js';
import { Context, type GlobalOptions } from './context.js';
import { EXIT_OK, EXIT_USAGE, exitCodeOf, hintFor } from './errors.js';
import { refuseRepeats } from './flags.js';
import type { Io } from './io.js';
import { didYouMean } from './suggest.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

/**
 * Builds the program; commands run their bodies through `act`. With `json` (the command
 * line has --json) a usage error is one JSON document on stdout, as other errors are.
 */
export function buildProgram(io: Io, act: Act, { json = false }: { readonly json?: boolean } = {}): Command {
  const program = new Command('kdelta')
    .description('KoruDelta from the command line: every write a version, with history, time travel and queries.')
    .version(version, '-V, --version', 'print the version')
    .option('-d, --db-path <dir>', 'the database directory (default: $KORU_DB_PATH, else ~/.korudelta/db)')
    .option('--store <url>', 'use a PostgreSQL store instead of a directory: postgres://user:password@host/db (default: $KORU_STORE); not with -d or --url')
    .option('--url <url>', 'talk to the KoruDelta server at this URL (default: $KORU_URL; else the local database)')
    .option('--token <token>', 'the server\'s token (default: $KORU_TOKEN)')
    .option('--json', 'machine-readable output: one JSON document per command (one per line for log, watch)')
    .helpOption('-h, --help', 'show help (also `kdelta help <command>`)')
    .helpCommand(false)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void (io.stdoutClosed?.aborted === true || io.stdout.write(s)),
      writeErr: (s) => void io.stderr.write(s),
      // One line, whatever commander says ("(Did you mean --filter?)" comes on a line of its own).
      outputError: (s, write) => {
        const message = s.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ');
        if (!json) return write(`kdelta: ${message}\n`);
        if (io.stdoutClosed?.aborted !== true) io.stdout.write(`${JSON.stringify({ error: { code: ErrorCodes.INVALID_ARGUMENT, message } })}\n`);
      },
    })
    .addHelpText('after', '\nRun `kdelta <command> --help` for its options and examples.\n');
  registerData(program, act);
  registerQuery(program, act);
  registerRetention(program, act);
  registerTransfer(program, act);
  registerWatch(program, act);
  registerCluster(program, act);
  program
    .command('help')
    .summary('show help for a command')
    .argument('[command...]', 'a command, e.g. query or view create')
    .action((names: string[]) => {
      let cmd: Command = program;
      for (const name of names) {
        const sub = cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
        if (sub === undefined) return unknownCommand(cmd, name, 'help ');
        cmd = sub;
      }
      cmd.outputHelp();
    });
  // Every command inherits the error handling and output settings.
  for (const cmd of [program, ...allCommands(program)]) {
    cmd.exitOverride().configureOutput(program.configureOutput()).showSuggestionAfterError(true).allowExcessArguments(false);
    refuseRepeats(cmd);
    // `kdelta help view create` is the one help command; `view nosuch` is unknown like `nosuch`.
    if (cmd.commands.length > 0) cmd.helpCommand(false).on('command:*', (operands: string[]) => unknownCommand(cmd, operands[0]!));
  }
  return program;
}

/** Fails with `unknown command 'stat' (did you mean status?)`: exit 2. */
function unknownCommand(parent: Command, name: string, prefix = ''): never {
  const names = parent.commands.flatMap((c) => [c.name(), ...c.aliases()]);
  const path = [...ancestors(parent), name].join(' ');
  // `kdelta view help create`: help is asked of kdelta itself.
  const hint = name === 'help' && parent.parent !== null ? ` (did you mean kdelta help ${ancestors(parent).join(' ')}?)` : didYouMean(name, names);
  parent.error(`${prefix === '' ? '' : `${prefix.trim()}: `}unknown command '${path}'${hint}; see kdelta ${[...ancestors(parent), ''].join(' ')}--help`, {
    exitCode: EXIT_USAGE,
    code: 'commander.unknownCommand',
  });
}

/** The names from the program down to `cmd`, without the program's. */
function ancestors(cmd: Command): string[] {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent != null; c = c.parent) names.unshift(c.name());
  return names;
}

function* allCommands(cmd: Command): Generator<Command> {
  for (const c of cmd.commands) {
    yield c;
    yield* allCommands(c);
  }
}

/** Runs kdelta with `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  let exitCode = EXIT_OK;
  let json = false;
  const act: Act =
    (body) =>
    async (...args) => {
      const cmd = args[args.length - 1] as Command;
      const options = cmd.optsWithGlobals<GlobalOptions>();
      json = options.json === true;
      const ctx = new Context(io, options);
      try {
        // Commander passes the arguments, then the options, then the command.
        const run = (body as (ctx: Context, ...rest: unknown[]) => Promise<number | void>)(ctx, ...args.slice(0, -1));
        const code = await untilStdoutCloses(run, io.stdoutClosed);
        if (typeof code === 'number') exitCode = code;
      } finally {
        await ctx.close();
      }
    };
  const end = argv.indexOf('--');
  const program = buildProgram(io, act, { json: (end < 0 ? argv : argv.slice(0, end)).includes('--json') });
  if (argv.length === 0) {
    io.stderr.write(program.helpInformation());
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE; // already printed
    report(e, io, json);
    return exitCodeOf(e);
  }
}

/**
 * `run`'s outcome, or exit 0 as soon as stdout's reader goes away (`| head -1`): the
 * command is abandoned (its later failure ignored) and its database closed by the caller.
 */
async function untilStdoutCloses<T>(run: Promise<T>, closed: AbortSignal | undefined): Promise<T | number> {
  if (closed === undefined) return run;
  run.catch(() => {});
  let stop: (() => void) | undefined;
  const gone = new Promise<number>((resolve) => {
    stop = () => resolve(EXIT_OK);
    if (closed.aborted) stop();
    else closed.addEventListener('abort', stop, { once: true });
  });
  try {
    return await Promise.race([run, gone]);
  } finally {
    closed.removeEventListener('abort', stop!);
  }
}

/** One line on stderr, or with --json one error document on stdout. */
function report(e: unknown, io: Io, json: boolean): void {
  const code = isKoruError(e) ? e.code : 'UNEXPECTED';
  const message = e instanceof Error ? e.message : String(e);
  if (json) {
    if (io.stdoutClosed?.aborted === true) return; // `| head`: nobody is reading
    io.stdout.write(`${JSON.stringify({ error: { code, message, ...(isKoruError(e) ? { details: e.details } : {}) } })}\n`);
    return;
  }
  const hint = hintFor(e);
  const line = `kdelta: ${message.replace(/\s*\n\s*/g, ' ')} (${code})${hint !== undefined ? `; ${hint}` : ''}`;
  io.stderr.write(`${line}\n`);
}
