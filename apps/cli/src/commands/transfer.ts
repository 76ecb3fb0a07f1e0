/** Moving data in and out: export, import. */
import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { once } from 'node:events';
import { type Version } from '@koru/delta';
import type { Database } from '../context.js';
import { UsageError } from '../errors.js';
import { examples } from '../help.js';
import type { Output } from '../io.js';
import { importFile } from './import-file.js';
import type { Register } from './register.js';

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
    .description(
      'Writes every committed version (tombstones and history included) in commit order, one JSON object per line: of one namespace, or of the whole database with its index and view definitions; from a server (--url), streamed in one request. A key whose older history retention or a purge removed starts with a version carrying `previousCut`. `kdelta import` restores it with the same ids, timestamps and horizons.',
    )
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
    .summary('add an export, plain JSON lines or a 1.0 database file')
    .description(
      'Adds what FILE holds. JSON lines: each line is a version of a `kdelta export` (added with its id, timestamp and clock unchanged; one already stored is skipped, so importing a dump twice adds nothing) or a plain {"namespace","key","value"} (written as a new version, like `set`), in file order. A KoruDelta 1.0 database file ({"version": 1, "current_state", "history_log"}): every key\'s history, oldest first, as versions with new ids and their 1.0 timestamps (to the millisecond); importing it again adds nothing. Every line is checked before anything is stored: a malformed one stores nothing. Then versions are added in batches of 5,000, each checked against the key\'s history and all or nothing.',
    )
    .argument('<file>', 'the file, or - for standard input')
    .addHelpText('after', examples(['kdelta import dump.jsonl', 'kdelta export | kdelta -d ./copy import -']))
    .action(act(async (ctx, fileArg: string) => importFile(ctx, fileArg)));
};

/**
 * Versions to export: every version in commit order, locally or streamed from a server
 * (`GET /v1/export`, one request however large the database), each key whose older
 * history retention or a purge cut starting with a version carrying `previousCut`, so
 * that `import` records the same horizon and `verify` passes on the copy.
 */
function exported(db: Database, namespace: string | undefined): AsyncGenerator<Version> {
  // Both handles have it (KoruDelta in process, KoruClient over HTTP); a per-key walk of
  // `history` would lose where histories were cut, and make the dump unimportable.
  if (db.exportVersions === undefined) throw new UsageError(`${namespace ?? 'the database'} cannot be exported from here: this handle has no exportVersions`);
  return db.exportVersions(namespace !== undefined ? { namespace } : {});
}
