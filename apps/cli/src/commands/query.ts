/** Queries, materialized views and secondary indexes: query, view …, index …. */
import { Agg, type Aggregation, type QueryResult, type ViewInfo, type ViewResult } from '@koru/delta';
import { parseFilterExpressions } from '@koru/query';
import type { Command } from 'commander';
import { parseCount } from '../args.js';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { repeatableOption } from '../flags.js';
import { pretty } from '../format.js';
import { examples } from '../help.js';
import type { Register } from './register.js';

/** The query flags shared by `query` and `view create`. */
interface QueryFlags {
  filter?: string[];
  sort?: string[];
  desc?: boolean;
  limit?: string;
  offset?: string;
  select?: string;
  count?: boolean;
  sum?: string;
  avg?: string;
  min?: string;
  max?: string;
  distinct?: string;
  groupBy?: string;
}

/** `--sort a,b:desc --sort c`: every key, in order. */
const sortKeys = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), ...value.split(',').filter((s) => s !== '')];

function addQueryFlags(cmd: Command): Command {
  return cmd
    .addOption(repeatableOption('-f, --filter <expr>', 'only documents matching the expression (see below); repeat to require all (AND)'))
    .addOption(repeatableOption('-s, --sort <field[:desc]>', 'sort by a field, ascending unless :desc; repeat or comma-separate for more keys', sortKeys))
    .option('--desc', 'sort the one --sort field descending (1.0 spelling of --sort FIELD:desc)')
    .option('-l, --limit <n>', 'at most n rows')
    .option('--offset <n>', 'skip the first n rows')
    .option('--select <a,b>', 'keep only these fields (dotted paths)')
    .option('--count', 'count the matching documents')
    .option('--sum <field>', 'sum of a numeric field')
    .option('--avg <field>', 'mean of a numeric field')
    .option('--min <field>', 'least value of a field')
    .option('--max <field>', 'greatest value of a field')
    .option('--distinct <field>', 'the distinct values of a field')
    .option('--group-by <field>', 'the aggregation (default --count) per distinct value of a field');
}

/** The sort keys of `--sort` (and `--desc`) as the wire form's `[field, direction]` pairs. */
function sortOf(keys: readonly string[] | undefined, desc: boolean): Array<[string, 'asc' | 'desc']> | undefined {
  const sort = keys?.map((s): [string, 'asc' | 'desc', boolean] => {
    const m = /^(.+?)(?::(asc|desc))?$/.exec(s)!;
    return [m[1]!, m[2] === 'desc' ? 'desc' : 'asc', m[2] !== undefined];
  });
  if (!desc) return sort?.map(([field, dir]) => [field, dir]);
  // --desc (1.0: `-s name --desc`) turns one field around; with several it would be a guess.
  if (sort === undefined) throw new UsageError('--desc needs a --sort field (e.g. --sort name --desc)');
  if (sort.length > 1) throw new UsageError(`--desc applies to one --sort field, not ${sort.length}: write each as FIELD:desc or FIELD:asc`);
  const [field, , explicit] = sort[0]!;
  if (explicit) throw new UsageError(`--desc with --sort ${keys![0]!}: give the direction once`);
  return [[field, 'desc']];
}

/** The wire query and the aggregation (if any) the flags describe. */
function queryOf(flags: QueryFlags): { query: Record<string, unknown>; aggregate: Aggregation | undefined } {
  const query: Record<string, unknown> = {};
  if (flags.filter !== undefined) query.filter = parseFilterExpressions(flags.filter, '--filter');
  const sort = sortOf(flags.sort, flags.desc === true);
  if (sort !== undefined) query.sort = sort;
  if (flags.limit !== undefined) query.limit = parseCount(flags.limit, '--limit');
  if (flags.offset !== undefined) query.offset = parseCount(flags.offset, '--offset');
  if (flags.select !== undefined) query.select = flags.select.split(',').filter((s) => s !== '');
  const aggs: Aggregation[] = [];
  if (flags.count === true) aggs.push(Agg.count());
  if (flags.sum !== undefined) aggs.push(Agg.sum(flags.sum));
  if (flags.avg !== undefined) aggs.push(Agg.avg(flags.avg));
  if (flags.min !== undefined) aggs.push(Agg.min(flags.min));
  if (flags.max !== undefined) aggs.push(Agg.max(flags.max));
  if (flags.distinct !== undefined) aggs.push(Agg.distinct(flags.distinct));
  if (aggs.length > 1) throw new UsageError('give at most one of --count, --sum, --avg, --min, --max, --distinct');
  let aggregate = aggs[0];
  if (flags.groupBy !== undefined) aggregate = Agg.groupBy(flags.groupBy, aggregate ?? Agg.count());
  if (aggregate !== undefined) {
    const extra = (['sort', 'limit', 'offset', 'select'] as const).find((k) => query[k] !== undefined);
    if (extra !== undefined) throw new UsageError(`--${extra} does not apply to an aggregation`);
  }
  return { query, aggregate };
}

/**
 * An aggregation as the flags that make it (`--group-by city --avg age`), or undefined
 * for one the flags cannot express (made through the API: a count of a field, a sum of
 * whole documents).
 */
export function aggregationFlags(agg: Aggregation): string | undefined {
  if (agg.op === 'groupBy') {
    const inner = aggregationFlags(agg.aggregation);
    return inner === undefined ? undefined : `--group-by ${agg.path} ${inner}`;
  }
  if (agg.op === 'count') return agg.path === undefined ? '--count' : undefined;
  return agg.path === undefined ? undefined : `--${agg.op} ${agg.path}`;
}

/** A view's definition in one line: its query (wire form) and its aggregation as flags. */
function definitionOf(v: ViewInfo): string {
  const query = v.query !== null && typeof v.query === 'object' && Object.keys(v.query).length > 0 ? JSON.stringify(v.query) : undefined;
  const parts = [...(query !== undefined ? [query] : []), ...(v.aggregate !== undefined ? [aggregationFlags(v.aggregate) ?? JSON.stringify(v.aggregate)] : [])];
  return parts.length > 0 ? parts.join('  ') : '(every document)';
}

function printRows(ctx: Context, r: QueryResult | ViewResult): void {
  for (const row of r.rows) ctx.out(`${ctx.c.cyan(row.key)}  ${JSON.stringify(row.value)}`);
}

const FILTER_HELP = `
Filter expressions:
  age > 30 and city = "Oslo"          = != > >= < <=, and, or, not, ( )
  name ~ "^A"   tags contains "x"     regex match (RE2: linear time, no lookaround
                                      or backreferences); substring or array element
  email exists   city in ["Oslo", "Rome"]
  On the left is a field: dotted (address.city, items.0.sku), odd names in backticks.
  On the right is a value: a number, true, false, null, a list, or text, quoted ("x" or
  'x') or a single bare word (status = active is status = "active"; on-hold is one
  word). A value is never a field: a = b.c is refused rather than guessed, as are
  bare words with spaces or symbols (quote "São Paulo", "a@b.com") and keywords.
  -f/--filter given twice: both must match (AND).
`;

export const register: Register = (program, act) => {
  addQueryFlags(
    program
      .command('query')
      .summary('find, sort and aggregate the documents of a namespace')
      .argument('<ns>', 'the namespace')
      .option('--at <time>', 'query the namespace as it was at this time'),
  )
    .addHelpText('after', FILTER_HELP)
    .addHelpText(
      'after',
      examples([
        `kdelta query users --filter 'age > 30' --sort name --limit 10`,
        `kdelta query users --filter 'city = "Oslo" and not banned exists' --select name,email`,
        'kdelta query users --group-by city --avg age',
        'kdelta query users --count --at 2026-01-01T00:00:00Z',
      ]),
    )
    .action(
      act(async (ctx, namespace: string, flags: QueryFlags & { at?: string }) => {
        const { query, aggregate } = queryOf(flags);
        const db = await ctx.db();
        if (aggregate !== undefined) {
          const value = await db.aggregate(namespace, aggregate, {
            ...(query.filter !== undefined ? { filter: query.filter } : {}),
            ...(flags.at !== undefined ? { at: flags.at } : {}),
          });
          return ctx.json ? ctx.outJson(value) : ctx.out(pretty(value));
        }
        const r = await db.query(namespace, query, flags.at !== undefined ? { at: flags.at } : {});
        if (ctx.json) return ctx.outJson(r);
        printRows(ctx, r);
        const how = r.explain.strategy === 'index' ? `index on ${r.explain.indexes.join(', ')}` : 'scan';
        ctx.out(ctx.c.dim(`${r.rows.length} of ${r.total} matching (${how}, ${r.explain.examined} examined)`));
      }),
    );

  const view = program.command('view').summary('materialized views: create, list, refresh, query, delete');
  addQueryFlags(
    view
      .command('create')
      .summary('create a view: a named query kept ready')
      .argument('<name>', 'the view name')
      .argument('<ns>', 'the namespace it reads')
      .option('--auto-refresh', 'keep it current on every write (default: refreshed by `view refresh`)')
      .option('--description <text>', 'what it is for'),
  )
    .addHelpText('after', examples([`kdelta view create adults users --filter 'age >= 18' --sort name --auto-refresh`, `kdelta view create per-city users --group-by city`]))
    .action(
      act(async (ctx, name: string, namespace: string, flags: QueryFlags & { autoRefresh?: boolean; description?: string }) => {
        const { query, aggregate } = queryOf(flags);
        const db = await ctx.db();
        const info = await db.createView({
          name,
          namespace,
          query,
          ...(aggregate !== undefined ? { aggregate } : {}),
          ...(flags.description !== undefined ? { description: flags.description } : {}),
          autoRefresh: flags.autoRefresh === true,
        });
        if (ctx.json) return ctx.outJson(info);
        ctx.out(`${ctx.c.green('created')} view ${name} on ${namespace}${info.autoRefresh ? ' (auto-refresh)' : ''}`);
      }),
    );
  view
    .command('list')
    .summary('every view')
    .addHelpText('after', examples(['kdelta view list']))
    .action(
      act(async (ctx) => {
        const views = await (await ctx.db()).listViews();
        if (ctx.json) return ctx.outJson(views);
        if (views.length === 0) ctx.out(ctx.c.dim('(no views)'));
        for (const v of views) {
          const mode = v.autoRefresh ? 'auto-refresh' : 'manual';
          ctx.out(`${ctx.c.cyan(v.name)}  ${v.namespace}  ${ctx.c.dim(mode)}  ${definitionOf(v)}${v.description !== undefined ? `  ${ctx.c.dim(v.description)}` : ''}`);
        }
      }),
    );
  for (const [verb, summary] of [
    ['refresh', 'recompute a view from the current data'],
    ['query', "a view's rows, as of its last refresh"],
  ] as const) {
    view
      .command(verb)
      .summary(summary)
      .argument('<name>', 'the view name')
      .addHelpText('after', examples([`kdelta view ${verb} adults`]))
      .action(
        act(async (ctx, name: string) => {
          const db = await ctx.db();
          const r = verb === 'refresh' ? await db.refreshView(name) : await db.queryView(name);
          if (r.aggregate !== undefined) {
            // An aggregate view has no rows: its answer is the aggregate, over `total` documents.
            const { rows: _rows, ...answer } = r;
            if (ctx.json) return ctx.outJson(answer);
            ctx.out(pretty(r.aggregate));
            ctx.out(ctx.c.dim(`over ${r.total} matching ${r.total === 1 ? 'document' : 'documents'}, refreshed ${r.refreshedAt} (seq ${r.seq})`));
            return;
          }
          if (ctx.json) return ctx.outJson(r);
          printRows(ctx, r);
          ctx.out(ctx.c.dim(`${r.rows.length} of ${r.total} matching, refreshed ${r.refreshedAt} (seq ${r.seq})`));
        }),
      );
  }
  view
    .command('delete')
    .summary('delete a view')
    .argument('<name>', 'the view name')
    .addHelpText('after', examples(['kdelta view delete adults']))
    .action(
      act(async (ctx, name: string) => {
        await (await ctx.db()).deleteView(name);
        if (ctx.json) return ctx.outJson({ deleted: name });
        ctx.out(`${ctx.c.red('deleted')} view ${name}`);
      }),
    );

  const index = program.command('index').summary('secondary indexes: create, list, drop');
  index
    .command('create')
    .summary('index a field so equality, in and range filters on it skip the scan')
    .argument('<ns>', 'the namespace')
    .argument('<field>', 'a dotted field path')
    .addHelpText('after', examples(['kdelta index create users email']))
    .action(
      act(async (ctx, namespace: string, field: string) => {
        const info = await (await ctx.db()).createIndex(namespace, field);
        if (ctx.json) return ctx.outJson(info);
        ctx.out(`${ctx.c.green('indexed')} ${namespace}.${field}`);
      }),
    );
  index
    .command('list')
    .summary('the indexes of a namespace, or of all')
    .argument('[ns]', 'a namespace')
    .addHelpText('after', examples(['kdelta index list']))
    .action(
      act(async (ctx, namespace: string | undefined) => {
        const list = await (await ctx.db()).listIndexes(namespace);
        if (ctx.json) return ctx.outJson(list);
        if (list.length === 0) ctx.out(ctx.c.dim('(no indexes)'));
        for (const i of list) ctx.out(`${i.namespace}.${i.field}  ${ctx.c.dim(i.createdAt)}`);
      }),
    );
  index
    .command('drop')
    .summary('remove an index')
    .argument('<ns>', 'the namespace')
    .argument('<field>', 'the indexed field')
    .addHelpText('after', examples(['kdelta index drop users email']))
    .action(
      act(async (ctx, namespace: string, field: string) => {
        await (await ctx.db()).dropIndex(namespace, field);
        if (ctx.json) return ctx.outJson({ dropped: { namespace, field } });
        ctx.out(`${ctx.c.red('dropped')} index ${namespace}.${field}`);
      }),
    );
};
