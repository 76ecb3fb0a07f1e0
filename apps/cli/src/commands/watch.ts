/** `kdelta watch`: print committed changes as they happen, or replay them from a seq. */
import type { ChangeEvent, ChangeType, LaggedEvent, PrunedEvent, SubscriptionSpec } from '@koru/delta';
import { parseFilterExpressions } from '@koru/query';
import { parseCount, parseTarget } from '../args.js';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { repeatableOption } from '../flags.js';
import { examples } from '../help.js';
import type { Register } from './register.js';

interface WatchFlags {
  all?: boolean;
  since?: string;
  filter?: string[];
  exit?: boolean;
  insertsOnly?: boolean;
  updatesOnly?: boolean;
  deletesOnly?: boolean;
}

/** The `--…-only` flags and the one change type each keeps. */
const ONLY = [
  ['insertsOnly', '--inserts-only', 'insert'],
  ['updatesOnly', '--updates-only', 'update'],
  ['deletesOnly', '--deletes-only', 'delete'],
] as const satisfies ReadonlyArray<readonly [keyof WatchFlags, string, ChangeType]>;

/** The subscription the target and flags describe. */
function specOf(target: string | undefined, flags: WatchFlags): { -readonly [K in keyof SubscriptionSpec]: SubscriptionSpec[K] } {
  if (target !== undefined && flags.all === true) throw new UsageError(`give a namespace or ns/key, or --all, not both (got ${JSON.stringify(target)} and --all)`);
  const spec: { -readonly [K in keyof SubscriptionSpec]: SubscriptionSpec[K] } = {};
  if (target !== undefined) {
    if (target.includes('/')) Object.assign(spec, parseTarget(target));
    else spec.namespace = target;
  }
  if (flags.since !== undefined) spec.since = parseCount(flags.since, '--since');
  if (flags.filter !== undefined) spec.filter = parseFilterExpressions(flags.filter, '--filter');
  const only = ONLY.filter(([name]) => flags[name] === true);
  if (only.length > 1) throw new UsageError(`give at most one of --inserts-only, --updates-only, --deletes-only (got ${only.map(([, flag]) => flag).join(' and ')})`);
  if (only.length === 1) spec.types = [only[0]![2]];
  return spec;
}

export const register: Register = (program, act) => {
  program
    .command('watch')
    .summary('print changes as they are committed')
    .description(
      'Prints each committed change of a namespace, a key, or (with no target, or --all) everything. With --since SEQ it first replays every change after SEQ. Runs until interrupted (Ctrl-C), until stdout\'s reader goes away (| head), or with --exit until it has caught up. On a local database it holds the database while it runs.',
    )
    .argument('[target]', 'a namespace, or ns/key (default: everything)')
    .option('--all', 'every namespace (the same as no target)')
    .option('--since <seq>', 'replay the changes after this seq first')
    .addOption(repeatableOption('--filter <expr>', 'only changes whose new value matches; repeat to require all (AND)'))
    .option('--inserts-only', 'only new keys (at most one of the --…-only flags)')
    .option('--updates-only', 'only new versions of existing keys')
    .option('--deletes-only', 'only deletions')
    .option('--exit', 'stop once caught up with the changes committed before it started')
    .addHelpText('after', examples(['kdelta watch users', 'kdelta watch users/alice --since 0 --exit', 'kdelta watch --all --json']))
    .action(
      act(async (ctx, target: string | undefined, flags: WatchFlags) => {
        const spec = specOf(target, flags);
        const db = await ctx.db();
        if (flags.exit === true) spec.until = Math.max(db.seq, spec.since ?? db.seq);
        const it = db.changes(spec);
        const stop = (): void => void it.return?.();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        ctx.io.stdoutClosed?.addEventListener('abort', stop, { once: true });
        // Waiting for a commit holds no I/O handle: keep the process alive meanwhile.
        const alive = setInterval(() => {}, 1 << 30);
        try {
          for await (const e of it) {
            if (ctx.stdoutClosed) break;
            printEvent(ctx, e);
          }
        } finally {
          clearInterval(alive);
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          ctx.io.stdoutClosed?.removeEventListener('abort', stop);
          await it.return?.();
        }
      }),
    );
};

function printEvent(ctx: Context, e: ChangeEvent | LaggedEvent | PrunedEvent): void {
  if (ctx.json) return ctx.outJson(e);
  if (e.type === 'lagged') {
    ctx.warn(`fell ${e.behind} changes behind; resume with --since ${e.seq}`);
    return;
  }
  if (e.type === 'pruned') {
    ctx.warn(`changes from ${e.seq} were removed by retention or a purge; read the current state (as of change ${e.resyncFrom}), the changes after it follow`);
    return;
  }
  const kind = e.changeType === 'delete' ? ctx.c.red(e.changeType) : e.changeType === 'insert' ? ctx.c.green(e.changeType) : ctx.c.yellow(e.changeType);
  ctx.out(`${ctx.c.dim(String(e.seq))}  ${kind}  ${e.namespace}/${e.key}${e.changeType === 'delete' ? '' : `  ${JSON.stringify(e.value)}`}`);
}
