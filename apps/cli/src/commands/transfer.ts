/** Moving data in and out and following it: export, import, watch. */
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { isKoruError, type ChangeEvent, type ImportedVersion, type LaggedEvent, type SubscriptionSpec, type Version } from '@koru/delta';
import { parseCount, parseTarget } from '../args.js';
import type { Context, Database } from '../context.js';
import { UsageError } from '../errors.js';
import { parseFilterExpression } from '../filter-expression.js';
import { examples } from '../help.js';
import type { Output } from '../io.js';
import type { Register } from './register.js';

/** Versions per `importVersions` call: each call is one atomic, checked batch. */
const IMPORT_BATCH = 5_000;
/** Bytes of JSON lines gathered before each write of an export. */
const EXPORT_CHUNK = 1 << 20;
const PROGRESS_EVERY = 50_000;

type Drainable = Output & { once?: (event: 'drain', listener: () => void) => unknown };

/** Writes `text`, waiting for the stream to drain when it asks to. */
async function write(out: Drainable, text: string): Promise<void> {
  if (out.write(text) === false && typeof out.once === 'function') await new Promise<void>((r) => out.once!('drain', r));
}

export const register: Register = (program, act) => {
  program
    .command('export')
    .summary('write every version, history included, as JSON lines')
    .description('Writes every committed version (tombstones and history included) in commit order, one JSON object per line: of one namespace, or of the whole database with its index and view definitions. `kdelta import` restores it with the same ids and timestamps.')
    .argument('[ns]', 'only this namespace')
    .option('-o, --output <file>', 'write to a file instead of standard output')
    .addHelpText('after', examples(['kdelta export > dump.jsonl', 'kdelta export users -o users.jsonl']))
    .action(
      act(async (ctx, namespace: string | undefined, opts: { output?: string }) => {
        const db = await ctx.db();
        const file = opts.output === undefined ? undefined : createWriteStream(resolve(ctx.io.cwd, opts.output));
        const out: Drainable = file ?? (ctx.io.stdout as Drainable);
        let chunk = '';
        let n = 0;
        for await (const v of exported(db, namespace)) {
          chunk += `${JSON.stringify(v)}\n`;
          if (chunk.length >= EXPORT_CHUNK) {
            await write(out, chunk);
            chunk = '';
          }
          if (++n % PROGRESS_EVERY === 0) ctx.progress(`exported ${n.toLocaleString('en-US')} versions…`);
        }
        if (chunk !== '') await write(out, chunk);
        ctx.progress(undefined);
        if (file !== undefined) {
          file.end();
          await once(file, 'close');
          if (ctx.json) ctx.outJson({ exported: n, file: opts.output });
          else ctx.out(`exported ${n.toLocaleString('en-US')} versions to ${opts.output}`);
        }
      }),
    );

  program
    .command('import')
    .summary('add the versions of an export (JSON lines)')
    .description('Adds the versions of a `kdelta export` with their ids, timestamps and clocks unchanged. Every line is checked against its ids and its key\'s history; lines are added in batches of 5,000, each all or nothing. Into an empty database, a whole-database export comes back identical.')
    .argument('<file>', 'the export file, or - for standard input')
    .addHelpText('after', examples(['kdelta import dump.jsonl', 'kdelta export | kdelta -d ./copy import -']))
    .action(
      act(async (ctx, fileArg: string) => {
        let input: Readable;
        if (fileArg === '-') input = Readable.from([await ctx.io.readStdin()]);
        else {
          const path = resolve(ctx.io.cwd, fileArg);
          try {
            input = (await open(path, 'r')).createReadStream();
          } catch (e) {
            throw new UsageError(`cannot read ${fileArg}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
          }
        }
        // One snapshot at the end instead of one each time the log grows past the threshold.
        const db = await ctx.db({ snapshotAfterBytes: Number.MAX_SAFE_INTEGER });
        const lines = createInterface({ input, crlfDelay: Infinity });
        let batch: ImportedVersion[] = [];
        let firstLine = 1;
        let lineNo = 0;
        let added = 0;
        const flush = async (): Promise<void> => {
          if (batch.length === 0) return;
          try {
            added += await db.importVersions(batch);
          } catch (e) {
            const index = isKoruError(e) ? (e.details.index as number | undefined) : undefined;
            const where = index === undefined ? `lines ${firstLine}-${lineNo}` : `line ${firstLine + index}`;
            const message = e instanceof Error ? e.message.replace(/^import item \d+ /, '') : String(e);
            throw new UsageError(`${fileArg} ${where}: ${message} (${added.toLocaleString('en-US')} versions were added before it)`);
          }
          batch = [];
          firstLine = lineNo + 1;
          if (added % PROGRESS_EVERY < IMPORT_BATCH) ctx.progress(`imported ${added.toLocaleString('en-US')} versions…`);
        };
        for await (const line of lines) {
          lineNo++;
          if (line.trim() === '') continue;
          try {
            batch.push(JSON.parse(line) as ImportedVersion);
          } catch {
            throw new UsageError(`${fileArg} line ${lineNo}: not a JSON object (each line must be one exported version)`);
          }
          if (batch.length >= IMPORT_BATCH) await flush();
        }
        await flush();
        if (added > 0) {
          ctx.progress(`imported ${added.toLocaleString('en-US')} versions; compacting…`);
          await db.compact?.();
        }
        ctx.progress(undefined);
        if (ctx.json) return ctx.outJson({ imported: added });
        ctx.out(`imported ${added.toLocaleString('en-US')} versions`);
      }),
    );

  program
    .command('watch')
    .summary('print changes as they are committed')
    .description('Prints each committed change of a namespace, a key or everything. With --since SEQ it first replays every change after SEQ. Runs until interrupted (Ctrl-C), or with --exit until it has caught up. On a local database it holds the database while it runs.')
    .argument('[target]', 'a namespace, or ns/key')
    .option('--all', 'every namespace')
    .option('--since <seq>', 'replay the changes after this seq first')
    .option('--filter <expr>', 'only changes whose new value matches')
    .option('--exit', 'stop once caught up with the changes committed before it started')
    .addHelpText('after', examples(['kdelta watch users', 'kdelta watch users/alice --since 0 --exit', 'kdelta watch --all --json']))
    .action(
      act(async (ctx, target: string | undefined, opts: { all?: boolean; since?: string; filter?: string; exit?: boolean }) => {
        if ((target === undefined) === (opts.all !== true)) throw new UsageError('give a namespace, ns/key, or --all');
        const spec: { -readonly [K in keyof SubscriptionSpec]: SubscriptionSpec[K] } = {};
        if (target !== undefined) {
          if (target.includes('/')) Object.assign(spec, parseTarget(target));
          else spec.namespace = target;
        }
        if (opts.since !== undefined) spec.since = parseCount(opts.since, '--since');
        if (opts.filter !== undefined) spec.filter = parseFilterExpression(opts.filter, '--filter');
        const db = await ctx.db();
        if (opts.exit === true) spec.until = Math.max(db.seq, spec.since ?? db.seq);
        const it = db.changes(spec);
        const stop = (): void => void it.return?.();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        // Waiting for a commit holds no I/O handle: keep the process alive meanwhile.
        const alive = setInterval(() => {}, 1 << 30);
        try {
          for await (const e of it) printEvent(ctx, e);
        } finally {
          clearInterval(alive);
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          await it.return?.();
        }
      }),
    );
};

/**
 * Versions to export: locally every version in commit order; from a server, each key's
 * history in order (what import needs), namespace by namespace, without the database's
 * own records (index and view definitions).
 */
async function* exported(db: Database, namespace: string | undefined): AsyncGenerator<Version> {
  if (db.exportVersions !== undefined) {
    yield* db.exportVersions(namespace !== undefined ? { namespace } : {});
    return;
  }
  for (const ns of namespace !== undefined ? [namespace] : await db.listNamespaces()) {
    for (const key of await db.listKeys(ns)) yield* await db.history(ns, key);
  }
}

function printEvent(ctx: Context, e: ChangeEvent | LaggedEvent): void {
  if (ctx.json) return ctx.outJson(e);
  if (e.type === 'lagged') {
    ctx.warn(`fell ${e.behind} changes behind; resume with --since ${e.seq}`);
    return;
  }
  const kind = e.changeType === 'delete' ? ctx.c.red(e.changeType) : e.changeType === 'insert' ? ctx.c.green(e.changeType) : ctx.c.yellow(e.changeType);
  ctx.out(`${ctx.c.dim(String(e.seq))}  ${kind}  ${e.namespace}/${e.key}${e.changeType === 'delete' ? '' : `  ${JSON.stringify(e.value)}`}`);
}
