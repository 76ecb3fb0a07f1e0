/** Moving data in and out: export, import (and serving it: start). */
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { isKoruError, type ImportedVersion, type Version } from '@koru/delta';
import { parseCount } from '../args.js';
import type { Database } from '../context.js';
import { UsageError } from '../errors.js';
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
    .command('start')
    .summary('serve the database over HTTP and WebSocket')
    .description('Starts a KoruDelta server on the database (-d / KORU_DB_PATH / ~/.korudelta/db): REST under /v1, WebSocket at /v1/ws. Loopback only unless --host says otherwise; a non-loopback host needs --token (or KORU_TOKEN), which every client must then send, unless --insecure. Stops cleanly on Ctrl-C or SIGTERM.')
    .option('-p, --port <port>', 'the port (0 picks a free one)', '7878')
    .option('--host <host>', 'the address to listen on', '127.0.0.1')
    .option('--insecure', 'allow a non-loopback host without a token (the global --token, or KORU_TOKEN, sets one)')
    .option('--join <host:port>', 'join the cluster of this member (repeat to name several)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--cluster', 'be a cluster member others can join, without joining anyone yet')
    .option('--cluster-key <key>', 'shared secret every member must hold (default: KORU_CLUSTER_KEY)')
    .option('--advertise <host:port>', 'the address other members dial to reach this one (default: --host and the port)')
    .addHelpText(
      'after',
      examples([
        'kdelta start',
        'kdelta start --port 8080 --host 0.0.0.0 --token s3cret',
        'kdelta start -d ./node1 --port 7001 --cluster',
        'kdelta start -d ./node2 --port 7002 --join 127.0.0.1:7001',
      ]),
    )
    .action(
      act(async (ctx, opts: { port: string; host: string; insecure?: boolean; join: string[]; cluster?: boolean; clusterKey?: string; advertise?: string }) => {
        const port = parseCount(opts.port, '--port');
        for (const address of [...opts.join, ...(opts.advertise !== undefined ? [opts.advertise] : [])]) {
          if (!/^(\[[0-9a-fA-F:.]+\]|[^:\s/]+):\d{1,5}$/.test(address)) throw new UsageError(`${JSON.stringify(address)} is not HOST:PORT`);
        }
        const key = opts.clusterKey ?? (ctx.io.env.KORU_CLUSTER_KEY || undefined);
        const clustered = opts.join.length > 0 || opts.cluster === true || key !== undefined || opts.advertise !== undefined;
        const { serve } = await import('@koru/server');
        return serve({
          path: ctx.dbPath,
          port,
          host: opts.host,
          ...(ctx.token !== undefined ? { token: ctx.token } : {}),
          ...(opts.insecure === true ? { insecure: true } : {}),
          ...(clustered
            ? { cluster: { join: opts.join, ...(key !== undefined ? { key } : {}), ...(opts.advertise !== undefined ? { advertise: opts.advertise } : {}) } }
            : {}),
        });
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
