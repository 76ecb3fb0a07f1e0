/** The commands on single keys and the whole database: set, get, log, diff, delete, list, status, verify, repair. */
import { diffValues, ErrorCodes, isKoruError, MAX_LIST_KEYS_LIMIT, toEpochMs, type AckLevel, type ListKeysOptions, type PutOptions, type RecoveryReport, type Version } from '@koru/delta';
import { parseCount, parseIndex, parseTarget, readJsonArgument } from '../args.js';
import { EXIT_FAILED, UsageError } from '../errors.js';
import { pretty, shortId, versionHeader, versionLine } from '../format.js';
import { examples } from '../help.js';
import type { Register } from './register.js';

const ACK_LEVELS = ['local', 'quorum', 'all'] as const;

/** `--if-version` and `--ack` as write options. */
function writeOptions(opts: { ifVersion?: string; ack?: string }): PutOptions | undefined {
  if (opts.ack !== undefined && !(ACK_LEVELS as readonly string[]).includes(opts.ack)) {
    throw new UsageError(`--ack must be local, quorum or all, not ${JSON.stringify(opts.ack)}`);
  }
  if (opts.ifVersion === undefined && opts.ack === undefined) return undefined;
  return { ...(opts.ifVersion !== undefined ? { ifVersion: opts.ifVersion } : {}), ...(opts.ack !== undefined ? { ack: opts.ack as AckLevel } : {}) };
}

/** `list`'s `--prefix`, `--after` and `--limit` as page options (undefined: none given). */
function pageOptions(opts: { prefix?: string; after?: string; limit?: string }): ListKeysOptions | undefined {
  if (opts.prefix === undefined && opts.after === undefined && opts.limit === undefined) return undefined;
  const limit = opts.limit === undefined ? undefined : parseCount(opts.limit, '--limit');
  if (limit !== undefined && (limit < 1 || limit > MAX_LIST_KEYS_LIMIT)) throw new UsageError(`--limit must be from 1 to ${MAX_LIST_KEYS_LIMIT}, got ${limit}`);
  return { ...(opts.prefix !== undefined ? { prefix: opts.prefix } : {}), ...(opts.after !== undefined ? { after: opts.after } : {}), ...(limit !== undefined ? { limit } : {}) };
}

export const register: Register = (program, act) => {
  program
    .command('set')
    .summary('write a new version of a key')
    .description('Writes VALUE (JSON; @file.json reads a file, - reads standard input) as the new version of NAMESPACE/KEY.')
    .argument('<ns/key>', 'namespace and key, split at the first /')
    .argument('<value>', "JSON value, @file.json or -")
    .option('--if-version <id>', 'only if the current version is this id (compare-and-set)')
    .option('--ack <level>', 'in a cluster, wait until it is stored on: local (default), quorum (a majority of members) or all')
    .addHelpText('after', examples([`kdelta set users/alice '{"name":"Alice","age":31}'`, 'kdelta set users/bob @bob.json', `echo '"hello"' | kdelta set notes/greeting -`, `kdelta set orders/o1 '{"total":12}' --ack quorum`]))
    .action(
      act(async (ctx, target: string, valueArg: string, opts: { ifVersion?: string; ack?: string }) => {
        const { namespace, key } = parseTarget(target);
        const value = await readJsonArgument(valueArg, ctx.io);
        const options = writeOptions(opts);
        const db = await ctx.db();
        const v = await db.put(namespace, key, value, options);
        if (ctx.json) return ctx.outJson(meta(v));
        ctx.out(`${ctx.c.green('set')} ${namespace}/${key}  ${ctx.c.yellow(shortId(v.versionId))}  ${ctx.c.dim(v.timestamp)}`);
      }),
    );

  program
    .command('get')
    .summary('read the current value, or the value at a time')
    .argument('<ns/key>', 'namespace and key')
    .option('-v, --verbose', 'also show version id, timestamp and previous version')
    .option('--at <time>', "the value as it was at this time (ISO-8601 or epoch ms; a version's hlc for exactly that version)")
    .addHelpText('after', examples(['kdelta get users/alice', 'kdelta get users/alice -v', 'kdelta get users/alice --at 2026-01-01T00:00:00Z', 'kdelta get users/alice --json | jq .name']))
    .action(
      act(async (ctx, target: string, opts: { verbose?: boolean; at?: string }) => {
        const { namespace, key } = parseTarget(target);
        const db = await ctx.db();
        const v = opts.at !== undefined ? await db.getAt(namespace, key, opts.at) : await db.getVersion(namespace, key);
        if (ctx.json) return ctx.outJson(opts.verbose === true ? v : v.value);
        if (opts.verbose === true) for (const line of versionHeader(v, ctx.c)) ctx.out(line);
        ctx.out(pretty(v.value));
      }),
    );

  program
    .command('log')
    .summary("a key's history, newest first")
    .argument('<ns/key>', 'namespace and key')
    .option('-l, --limit <n>', 'at most this many versions (the newest)')
    .addHelpText('after', examples(['kdelta log users/alice', 'kdelta log users/alice -l 5', 'kdelta log users/alice --json']))
    .action(
      act(async (ctx, target: string, opts: { limit?: string }) => {
        const { namespace, key } = parseTarget(target);
        const db = await ctx.db();
        const limit = opts.limit === undefined ? undefined : parseCount(opts.limit, '--limit');
        const history = await db.history(namespace, key, limit !== undefined ? { limit } : {});
        for (let i = history.length - 1; i >= 0; i--) {
          const v = history[i]!;
          if (ctx.json) ctx.outJson(v);
          else ctx.out(versionLine(v, ctx.c));
        }
      }),
    );

  program
    .command('diff')
    .summary('what changed between two versions of a key')
    .description(
      'Shows a Git-style line diff of the pretty-printed JSON. By default the latest version against the one before it; --at T the version current at T against the one before it (as in 1.0; with --to, the version at T against that one instead); --from/--to pick history indexes (0 = oldest, -1 = latest). At a T before the key was first written there was nothing, so nothing changed.',
    )
    .argument('<ns/key>', 'namespace and key')
    .option('--at <time>', 'the version current at this time (or a version\'s hlc) against the one before it')
    .option('--from <i>', 'history index of the older side')
    .option('--to <i>', 'history index of the newer side')
    .addHelpText(
      'after',
      examples([
        'kdelta diff users/alice',
        'kdelta diff users/alice --from 0 --to 2',
        'kdelta diff users/alice --at 2026-01-01T00:00:00Z',
        'kdelta diff users/alice --at 2026-01-01T00:00:00Z --to -1',
        'kdelta diff users/alice --json',
      ]),
    )
    .action(
      act(async (ctx, target: string, opts: { at?: string; from?: string; to?: string }) => {
        const { namespace, key } = parseTarget(target);
        if (opts.at !== undefined && opts.from !== undefined) throw new UsageError('--at and --from cannot be given together (--at T --to I compares the version at T with I)');
        const db = await ctx.db();
        const to = opts.to !== undefined ? parseIndex(opts.to, '--to') : undefined;
        // --at alone is the newer side (1.0: the value at T against its previous version);
        // with --to it is the older side.
        const range =
          opts.at === undefined
            ? { ...(opts.from !== undefined ? { from: parseIndex(opts.from, '--from') } : {}), ...(to !== undefined ? { to } : {}) }
            : to === undefined
              ? { to: opts.at }
              : { from: opts.at, to };
        const d = await db.diff(namespace, key, range).catch(async (e: unknown) => {
          // --at before the key's first version: nothing was there then.
          if (opts.at === undefined || !isKoruError(e, ErrorCodes.INVALID_ARGUMENT)) throw e;
          const history = await db.history(namespace, key);
          if (Date.parse(history[0]!.timestamp) <= toEpochMs(opts.at)) throw e;
          if (to === undefined) return null;
          const target = (await db.diff(namespace, key, { to })).to;
          return { from: null, to: target, changes: diffValues(undefined, target.deleted ? undefined : target.value) };
        });
        if (d === null) {
          if (ctx.json) return ctx.outJson({ namespace, key, from: null, to: null, changes: [] });
          return ctx.out(ctx.c.dim(`(${namespace}/${key} did not exist at ${opts.at}: no change)`));
        }
        if (ctx.json) return ctx.outJson({ namespace, key, from: d.from, to: d.to, changes: d.changes });
        const side = (v: typeof d.from) => (v === null || v.deleted ? '' : `${pretty(v.value)}\n`);
        const label = (v: typeof d.from) => (v !== null ? `${namespace}/${key} @ ${shortId(v.versionId)}` : opts.at !== undefined && to !== undefined ? `(nothing at ${opts.at})` : '(nothing)');
        // Loaded here, not at start-up: only `diff` needs it, and every command would pay its loading.
        const { createTwoFilesPatch } = await import('diff');
        const patch = createTwoFilesPatch(label(d.from), label(d.to), side(d.from), side(d.to), d.from?.timestamp ?? '', d.to.timestamp, { context: 3 });
        const lines = patch.split('\n').slice(1); // the first line is an Index: header
        if (d.changes.length === 0) lines.splice(2, Infinity, ctx.c.dim('(no change)'));
        for (const line of lines) {
          if (line === '') continue;
          if (line.startsWith('+++') || line.startsWith('---')) ctx.out(ctx.c.bold(line));
          else if (line.startsWith('@@')) ctx.out(ctx.c.cyan(line));
          else if (line.startsWith('+')) ctx.out(ctx.c.green(line));
          else if (line.startsWith('-')) ctx.out(ctx.c.red(line));
          else ctx.out(line);
        }
      }),
    );

  program
    .command('delete')
    .summary('delete a key (its history stays)')
    .argument('<ns/key>', 'namespace and key')
    .option('--ack <level>', 'in a cluster, wait until it is stored on: local (default), quorum or all')
    .addHelpText('after', examples(['kdelta delete users/alice', 'kdelta delete users/alice --ack all']))
    .action(
      act(async (ctx, target: string, opts: { ack?: string }) => {
        const { namespace, key } = parseTarget(target);
        const options = writeOptions(opts);
        const db = await ctx.db();
        const v = await db.delete(namespace, key, options);
        if (ctx.json) return ctx.outJson(meta(v));
        ctx.out(`${ctx.c.red('deleted')} ${namespace}/${key}  ${ctx.c.yellow(shortId(v.versionId))}  ${ctx.c.dim('(history kept: kdelta log)')}`);
      }),
    );

  program
    .command('list')
    .summary('namespaces with their key counts, or the keys of one namespace')
    .argument('[ns]', 'a namespace')
    .option('--prefix <p>', 'only the keys starting with this')
    .option('--after <key>', 'only the keys after this one (the last key of the previous page)')
    .option('--limit <n>', `at most this many keys (1 to ${MAX_LIST_KEYS_LIMIT.toLocaleString('en-US')})`)
    .addHelpText('after', examples(['kdelta list', 'kdelta list users', 'kdelta list users --prefix a --limit 100', 'kdelta list users --limit 100 --after alice']))
    .action(
      act(async (ctx, namespace: string | undefined, opts: { prefix?: string; after?: string; limit?: string }) => {
        const page = pageOptions(opts);
        if (namespace === undefined && page !== undefined) throw new UsageError('--prefix, --after and --limit page the keys of one namespace: name it (kdelta list NS --limit 100)');
        const db = await ctx.db();
        if (namespace !== undefined) {
          const keys = await db.listKeys(namespace, page);
          if (ctx.json) return ctx.outJson(keys);
          for (const k of keys) ctx.out(k);
          return;
        }
        const rows: Array<{ namespace: string; keys: number }> = [];
        for (const ns of await db.listNamespaces()) rows.push({ namespace: ns, keys: await db.countKeys(ns) });
        if (ctx.json) return ctx.outJson(rows);
        if (rows.length === 0) ctx.out(ctx.c.dim('(no namespaces)'));
        for (const r of rows) ctx.out(`${r.namespace}  ${ctx.c.dim(`${r.keys} ${r.keys === 1 ? 'key' : 'keys'}`)}`);
      }),
    );

  program
    .command('status')
    .summary('counts, size on disk and where the database is')
    .addHelpText('after', examples(['kdelta status', 'kdelta status --json']))
    .action(
      act(async (ctx) => {
        const db = await ctx.db();
        const s = await db.stats();
        const status = { ...(ctx.remote ? { url: ctx.where } : ctx.store !== undefined ? { store: ctx.where } : { path: ctx.dbPath }), node: db.nodeId, ...s };
        if (ctx.json) return ctx.outJson(status);
        const rows: Array<[string, string]> = [
          ['database', ctx.where],
          ['keys', s.keys.toLocaleString('en-US')],
          ['versions', s.versions.toLocaleString('en-US')],
          ['namespaces', s.namespaces.toLocaleString('en-US')],
          ['on disk', `${s.diskBytes.toLocaleString('en-US')} bytes`],
          ['last seq', String(s.seq)],
          ['node', db.nodeId],
        ];
        for (const [k, v] of rows) ctx.out(`${ctx.c.bold(k.padEnd(11))}${v}`);
      }),
    );

  program
    .command('verify')
    .summary('re-hash every version chain and value')
    .addHelpText('after', examples(['kdelta verify']))
    .action(
      act(async (ctx) => {
        const db = await ctx.db();
        ctx.progress(`verifying ${(await db.stats()).versions.toLocaleString('en-US')} versions…`);
        const r = await db.verify();
        ctx.progress(undefined);
        if (ctx.json) ctx.outJson(r);
        else {
          const summary = `${r.keys} keys, ${r.versions} versions, ${r.values} values`;
          if (r.ok) ctx.out(`${ctx.c.green('ok')}  ${summary}`);
          else {
            ctx.out(`${ctx.c.red(`${r.problems.length} problem(s)`)}  ${summary}`);
            for (const p of r.problems) ctx.out(`  ${p.namespace}/${p.key} ${shortId(p.versionId)}: ${p.problem}`);
          }
        }
        if (!r.ok) return EXIT_FAILED;
      }),
    );

  program
    .command('repair')
    .summary('open a database that refuses with CORRUPTION, dropping what is damaged, and say what was dropped')
    .description(
      'Opens the local database with repair: each write-ahead log keeps its whole batches before the damage, the ' +
        'damaged file is saved aside, and a missing or damaged NODE is replaced by a new node id. Prints what was ' +
        'dropped. A damaged or missing segment file cannot be repaired: restore it from a backup.',
    )
    .addHelpText('after', examples(['kdelta repair']))
    .action(
      act(async (ctx) => {
        if (ctx.store !== undefined) throw new UsageError('repair mends a database directory; a PostgreSQL store is kept by PostgreSQL (kdelta verify checks it)');
        // It prints the whole recovery report itself, so the start's warnings would repeat it.
        const db = await ctx.db({ repair: true, onWarning: () => undefined });
        if (ctx.remote || !('recovery' in db)) throw new UsageError(`repair needs the database directory itself; ${ctx.where} is served by a running server: stop it first`);
        const r = (db as { recovery: RecoveryReport }).recovery;
        if (ctx.json) return ctx.outJson(r);
        if (r.truncated !== undefined) ctx.out(`cut a torn tail of ${r.truncated.bytes} bytes at offset ${r.truncated.offset} of ${r.truncated.file}`);
        for (const d of r.repaired ?? []) ctx.out(`${ctx.c.red('dropped')}  ${d.message}`);
        if (r.repaired === undefined) ctx.out(`${ctx.c.green('ok')}  nothing was damaged`);
      }),
    );
};

/** A version without its value: what `set` and `delete` print with --json. */
function meta(v: Version): Omit<Version, 'value'> {
  const { value: _value, ...rest } = v;
  return rest;
}
