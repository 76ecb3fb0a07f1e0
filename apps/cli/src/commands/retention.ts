/** `kdelta retention set|show`, `kdelta compact` and `kdelta purge`: how much history a namespace keeps, and erasing a key (local database or a server). */
import type { RetentionPolicy } from '@koru/delta';
import { parseCount, parseTarget } from '../args.js';
import { UsageError } from '../errors.js';
import { shortId } from '../format.js';
import { examples } from '../help.js';
import type { Register } from './register.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A duration: `500ms`, `45s`, `15m`, `12h`, `30d`, `2w`, or a whole number of ms. */
export function parseDuration(text: string, option: string): number {
  const m = /^(\d+)(ms|s|m|h|d|w)?$/.exec(text.trim());
  const ms = m === null ? NaN : Number(m[1]) * UNITS[m[2] ?? 'ms']!;
  if (!Number.isSafeInteger(ms) || ms < 1) throw new UsageError(`${option} must be a duration of at least 1 ms (e.g. 500ms, 45s, 15m, 12h, 30d, 2w), got ${JSON.stringify(text)}`);
  return ms;
}

/** A policy as a person reads it. */
function describePolicy(p: RetentionPolicy): string {
  if ('lastVersions' in p) return `the last ${p.lastVersions} ${p.lastVersions === 1 ? 'version' : 'versions'} of each key`;
  if ('maxAgeMs' in p) return `versions younger than ${p.maxAgeMs} ms (and the one current then)`;
  return 'everything';
}

export const register: Register = (program, act) => {
  const retention = program.command('retention').summary("how much of a namespace's history is kept");
  retention
    .command('set')
    .summary("set a namespace's retention policy")
    .description(
      'Keeps everything (--keep-all, the default of every namespace), the last N versions of each key (--last N) or the versions younger than a duration (--max-age D, plus the version current at its start). Merges apply it as they run, in the background. What was cut leaves a horizon per key: reads before it fail with HISTORY_PRUNED.',
    )
    .argument('<ns>', 'the namespace')
    .option('--last <n>', 'keep the last N versions of each key (N ≥ 1)')
    .option('--max-age <duration>', 'keep the versions younger than this (500ms, 45s, 15m, 12h, 30d, 2w)')
    .option('--keep-all', 'keep everything')
    .addHelpText('after', examples(['kdelta retention set sessions --last 5', 'kdelta retention set events --max-age 30d', 'kdelta retention set users --keep-all']))
    .action(
      act(async (ctx, ns: string, opts: { last?: string; maxAge?: string; keepAll?: boolean }) => {
        const given = [opts.last, opts.maxAge, opts.keepAll].filter((o) => o !== undefined).length;
        if (given !== 1) throw new UsageError('give exactly one of --last N, --max-age D, --keep-all');
        let policy: RetentionPolicy;
        if (opts.last !== undefined) {
          const n = parseCount(opts.last, '--last');
          if (n < 1) throw new UsageError('--last must be at least 1');
          policy = { lastVersions: n };
        } else if (opts.maxAge !== undefined) policy = { maxAgeMs: parseDuration(opts.maxAge, '--max-age') };
        else policy = { keep: 'all' };
        const db = await ctx.db();
        const stored = await db.setRetention(ns, policy);
        if (ctx.json) return ctx.outJson({ namespace: ns, policy: stored });
        ctx.out(`${ctx.c.green('retention')} ${ns}: ${describePolicy(stored)}`);
      }),
    );
  retention
    .command('show')
    .summary("a namespace's retention policy, or every policy that is not keep-all")
    .argument('[ns]', 'the namespace (default: every one with a policy)')
    .addHelpText('after', examples(['kdelta retention show', 'kdelta retention show sessions --json']))
    .action(
      act(async (ctx, ns: string | undefined) => {
        const db = await ctx.db();
        const rows = ns !== undefined ? [[ns, await db.retention(ns)] as const] : await db.retentionPolicies();
        if (ctx.json) return ctx.outJson(ns !== undefined ? { namespace: ns, policy: rows[0]![1] } : rows.map(([namespace, policy]) => ({ namespace, policy })));
        if (rows.length === 0) ctx.out(ctx.c.dim('every namespace keeps everything'));
        for (const [name, p] of rows) ctx.out(`${name}  ${describePolicy(p)}`);
      }),
    );

  program
    .command('compact')
    .summary('merge the files now: retention policies cut, purged values leave the files')
    .description(
      "Merges every file of the local database into one sorted run now (in a background thread; reads go on), instead of when the merges come to it: retention policies cut what they cut, a purged key's values leave the files, and large values no kept version holds are reclaimed. Only a local database: a served one is compacted by its server's process.",
    )
    .addHelpText('after', examples(['kdelta compact', 'kdelta -d ./data compact --json']))
    .action(
      act(async (ctx) => {
        const db = await ctx.db();
        if (db.compact === undefined) throw new UsageError('compact works on a local database (-d DIR), not through a server');
        const before = (await db.stats()).diskBytes;
        const t0 = performance.now();
        await db.compact();
        const ms = Math.round(performance.now() - t0);
        const after = (await db.stats()).diskBytes;
        if (ctx.json) return ctx.outJson({ diskBytesBefore: before, diskBytesAfter: after, ms });
        const size = (n: number): string => (n < 1e6 ? `${(n / 1e3).toFixed(1)} kB` : `${(n / 1e6).toFixed(1)} MB`);
        ctx.out(`${ctx.c.green('compacted')}  ${size(before)} → ${size(after)} on disk in ${ms} ms`);
      }),
    );

  program
    .command('purge')
    .summary("erase a key's history (for erasure requests)")
    .description(
      'Deletes NAMESPACE/KEY and removes every older version, leaving a verifiable purge record. The values leave the files as the background merges reach the deepest level (kdelta compact: at once). Irreversible: needs --yes.',
    )
    .argument('<ns/key>', 'namespace and key')
    .option('--yes', 'really erase it')
    .addHelpText('after', examples(['kdelta purge users/alice --yes']))
    .action(
      act(async (ctx, target: string, opts: { yes?: boolean }) => {
        const { namespace, key } = parseTarget(target);
        if (opts.yes !== true) throw new UsageError(`purge erases ${namespace}/${key}'s history for good: add --yes`);
        const db = await ctx.db();
        const r = await db.purge(namespace, key);
        if (ctx.json) return ctx.outJson(r);
        ctx.out(`${ctx.c.red('purged')} ${namespace}/${key}  ${r.removed.length} ${r.removed.length === 1 ? 'version' : 'versions'} removed; tombstone ${ctx.c.yellow(shortId(r.tombstone))}`);
      }),
    );
};
