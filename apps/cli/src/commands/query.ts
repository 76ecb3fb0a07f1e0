/** Queries, materialized views and secondary indexes: query, view …, index …. */
import { Agg, type Aggregation, type QueryResult, type ViewResult } from '@koru/delta';
import type { Command } from 'commander';
import { parseCount } from '../args.js';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { parseFilterExpression } from '../filter-expression.js';
import { pretty } from '../format.js';
import { examples } from '../help.js';
import type { Register } from './register.js';

/** The query flags shared by `query` and `view create`. */
interface QueryFlags {
  filter?: string;
  sort?: string[];
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

const collect = (value: string, previous: string[] = []): string[] => [...previous, ...value.split(',').filter((s) => s !== '')];

function addQueryFlags(cmd: Command): Command {
  return cmd
    .option('--filter <expr>', 'only documents matching the expression (see below)')
    .option('--sort <field[:desc]>', 'sort by a field, ascending unless :desc; repeat or comma-separate for more keys', collect)
    .option('--limit <n>', 'at most n rows')
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

/** The wire query and the aggregation (if any) the flags describe. */
function queryOf(flags: QueryFlags): { query: Record<string, unknown>; aggregate: Aggregation | undefined } {
  const query: Record<string, unknown> = {};
  if (flags.filter !== undefined) query.filter = parseFilterExpression(flags.filter, '--filter');
  if (flags.sort !== undefined) {
    query.sort = flags.sort.map((s) => {
      const m = /^(.+?)(?::(asc|desc))?$/.exec(s)!;
      return [m[1]!, m[2] ?? 'asc'];
    });
  }
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

function printRows(ctx: Context, r: QueryResult | ViewResult): void {
  for (const row of r.rows) ctx.out(`${ctx.c.cyan(row.key)}  ${JSON.stringify(row.value)}`);
}

const FILTER_HELP = `
Filter expressions:
  age > 30 and city = "Oslo"          = != > >= < <=, and, or, not, ( )
  name ~ "^A"   tags contains "x"     regex match; substring or array element
  email exists   city in ["Oslo", "Rome"]
  Strings are quoted ("x" or 'x'); numbers, true, false and null are bare; paths are
  dotted (address.city, items.0.sku); quote odd field names with backticks.
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
          ctx.out(`${ctx.c.cyan(v.name)}  ${v.namespace}  ${ctx.c.dim(mode)}  ${JSON.stringify(v.query)}${v.description !== undefined ? `  ${ctx.c.dim(v.description)}` : ''}`);
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
          if (ctx.json) return ctx.outJson(r);
          if (r.aggregate !== undefined) ctx.out(pretty(r.aggregate));
          else printRows(ctx, r);
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
