/**
 * `kdelta start` (serve the database; every server is a cluster member others can join)
 * and `kdelta peers` (the members of the cluster the served database belongs to).
 */
import { isKoruError } from '@koru/delta';
import type { PeerInfo } from '@koru/server';
import { examples } from '../help.js';
import { EXIT_FAILED, UsageError } from '../errors.js';
import { repeatableOption } from '../flags.js';
import type { Register } from './register.js';

/** Options of `kdelta start` as Commander hands them over. */
interface StartOptions {
  readonly port?: string;
  readonly host?: string;
  readonly bind?: string;
  readonly insecure?: boolean;
  readonly join: string[];
  readonly cluster?: boolean;
  readonly clusterKey?: string;
  readonly advertise?: string;
  readonly tokenFile?: string;
  readonly allowOrigin?: string[];
  readonly allowHost?: string[];
  /** False for --no-console. */
  readonly console: boolean;
}

/** Re-throws a @koru/server argument error as a usage error of kdelta. */
function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw isKoruError(e) ? new UsageError(e.message) : e;
  }
}

/** The server's `GET /v1/cluster/peers`. */
interface PeersAnswer {
  readonly node: string;
  readonly address: string | null;
  readonly peers: readonly PeerInfo[];
}

export const register: Register = (program, act) => {
  const start = program
    .command('start')
    .summary('serve the database over HTTP and WebSocket, as a cluster member others can join')
    .description(
      'Starts a KoruDelta server on the database (-d / KORU_DB_PATH / ~/.korudelta/db), or on a PostgreSQL store (--store postgres://… / KORU_STORE: any number of servers may serve one store, each stateless, with no cluster of their own: not with --join, --cluster-key or --advertise): REST under /v1, WebSocket at /v1/ws, cluster links at /v1/cluster, the web console at / (--no-console: none), on one port (--port, else KORU_PORT, else PORT, else 7878). Every server is a cluster member: another `kdelta start --join HOST[:PORT]` forms a cluster with it (port 7878 if none is given); a server alone does no cluster work. Loopback only unless --host/--bind says otherwise; a non-loopback host needs --token (or KORU_TOKEN), which every client and every peer must then hold, unless --insecure. Peers prove a shared secret: --cluster-key (or KORU_CLUSTER_KEY), else one derived from the token. --token-file (or KORU_TOKEN_FILE) reads the token from a file, out of the process list. Web pages may call the server only from its own origin or one given with --allow-origin (or KORU_ALLOW_ORIGIN); a loopback server answers only to loopback host names, and --allow-host (or KORU_ALLOW_HOST) adds more. KORU_LOG_LEVEL sets the log level. Stops cleanly on Ctrl-C or SIGTERM.',
    )
    .option('-p, --port <port>', 'the port (0 picks a free one; default: KORU_PORT, else PORT, else 7878)')
    .option('--host <host>', 'the address to listen on (default 127.0.0.1)')
    .option('-b, --bind <host>', 'the same as --host (1.0 spelling)')
    .option('--insecure', 'allow a non-loopback host without a token (the global --token, or KORU_TOKEN, sets one)')
    .option('-j, --join <host[:port]>', 'join the cluster of this member, port 7878 if none (repeat to name several)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--cluster', 'accepted for compatibility: every server can be joined')
    .option('--cluster-key <key>', 'shared secret every member must hold (default: KORU_CLUSTER_KEY, else derived from the token)')
    .option('--advertise <host:port>', 'the address other members dial to reach this one (default: --host and the port)')
    .option('--token-file <path>', 'read the token from this file, so it does not show in the process list (default: KORU_TOKEN_FILE); not with --token')
    .addOption(repeatableOption('--allow-origin <origin>', 'a web origin (scheme://host[:port], or *) whose pages may call the server, with CORS; repeat or give a comma list (default: KORU_ALLOW_ORIGIN). Pages from other origins but the server\'s own get 403'))
    .addOption(repeatableOption('--allow-host <name>', 'a host name (NAME or NAME:PORT) requests may be addressed to besides the loopback names, e.g. behind a proxy; repeat or give a comma list (default: KORU_ALLOW_HOST)'))
    .option('--no-console', 'do not serve the web console at / (served by default, without the token: sign-in happens in the page)')
    .addHelpText(
      'after',
      examples([
        'kdelta start',
        'kdelta start --port 8080 --host 0.0.0.0 --token s3cret',
        'kdelta start -p 8080 -b 0.0.0.0 --token s3cret',
        'kdelta start -d ./node2 --port 7002 --join 127.0.0.1:7001',
        'kdelta start -j 192.168.1.10',
        'kdelta start --host 0.0.0.0 --token-file /run/secrets/koru-token',
        'kdelta start --allow-origin http://localhost:3000',
        'kdelta start --no-console',
        'kdelta start --store postgres://koru:secret@db.internal/koru --port 8080',
      ]),
    )
    .action(
      act(async (ctx, opts: StartOptions) => {
        const server = await import('@koru/server');
        if (ctx.store !== undefined) {
          const cluster = opts.join.length > 0 ? '--join' : opts.clusterKey !== undefined ? '--cluster-key' : opts.advertise !== undefined ? '--advertise' : undefined;
          if (cluster !== undefined) throw new UsageError(`${cluster} is for the embedded cluster; servers on a store share one database instead: start each on the same --store`);
        }
        if (opts.host !== undefined && opts.bind !== undefined) throw new UsageError('--host and --bind name the same setting: give one');
        // Flags win over the environment (which is then not read); a bad value in either is a usage error.
        const port = usage(() => (opts.port !== undefined ? server.parsePort(opts.port, '--port') : server.portFromEnv(ctx.io.env)));
        const logLevel = usage(() => server.logLevelFromEnv(ctx.io.env));
        const join = opts.join.map((a) => usage(() => server.parseJoinAddress(a, '--join')));
        const advertise = opts.advertise !== undefined ? usage(() => server.parseJoinAddress(opts.advertise!, '--advertise')) : undefined;
        const key = opts.clusterKey ?? (ctx.io.env.KORU_CLUSTER_KEY || undefined);
        if (opts.tokenFile !== undefined && ctx.tokenFromFlag) throw new UsageError('--token and --token-file both give the token: give one');
        const token = usage(() => server.tokenOf({ token: ctx.tokenFromFlag ? ctx.token : undefined, tokenFile: opts.tokenFile }, ctx.io.env));
        const env = ctx.io.env;
        const allowOrigins = usage(() => (opts.allowOrigin !== undefined ? server.parseAllowOrigins(opts.allowOrigin, '--allow-origin') : env.KORU_ALLOW_ORIGIN?.trim() ? server.parseAllowOrigins([env.KORU_ALLOW_ORIGIN], 'KORU_ALLOW_ORIGIN') : undefined));
        const allowHosts = usage(() => (opts.allowHost !== undefined ? server.parseAllowHosts(opts.allowHost, '--allow-host') : env.KORU_ALLOW_HOST?.trim() ? server.parseAllowHosts([env.KORU_ALLOW_HOST], 'KORU_ALLOW_HOST') : undefined));
        return server.serve({
          ...(ctx.store !== undefined ? { store: ctx.store } : { path: ctx.dbPath }),
          ...(port !== undefined ? { port } : {}),
          host: opts.host ?? opts.bind ?? '127.0.0.1',
          ...(logLevel !== undefined ? { logLevel } : {}),
          ...(token !== undefined ? { token } : {}),
          ...(allowOrigins !== undefined ? { allowOrigins } : {}),
          ...(allowHosts !== undefined ? { allowHosts } : {}),
          ...(opts.insecure === true ? { insecure: true } : {}),
          ...(opts.console === false ? { console: false as const } : {}),
          // On a store there is no cluster (KORU_CLUSTER_KEY, from the environment, is not read).
          cluster: ctx.store !== undefined ? false : { join, ...(key !== undefined ? { key } : {}), ...(advertise !== undefined ? { advertise } : {}) },
        });
      }),
    );

  program
    .command('peers')
    .summary('the cluster members this node knows, and how they are doing')
    .description(
      'Lists the other members of the cluster of the server holding the database (or the one at --url): id, address, state (healthy, suspect, unreachable, left), when it was last heard from, and how far behind this node\'s writes it is. A database that no clustered server holds has no peers.',
    )
    .addHelpText('after', examples(['kdelta peers', 'kdelta peers --url http://127.0.0.1:7001 --json']))
    .action(
      act(async (ctx) => {
        const db = await ctx.db();
        if (!ctx.remote) {
          const answer: PeersAnswer = { node: db.nodeId, address: null, peers: [] };
          if (ctx.json) return ctx.outJson(answer);
          const why = ctx.store !== undefined ? '(a PostgreSQL store has no cluster: its servers share one database)' : '(not served by a cluster member: serve it with kdelta start, then others can --join it)';
          ctx.out(`${ctx.c.bold('node')} ${db.nodeId}  ${ctx.c.dim(why)}`);
          return;
        }
        const res = await fetch(new URL('/v1/cluster/peers', ctx.where), {
          headers: ctx.token !== undefined ? { authorization: `Bearer ${ctx.token}` } : {},
        });
        if (!res.ok) {
          ctx.warn(`${ctx.where} answered ${res.status}: ${await res.text()}`);
          return EXIT_FAILED;
        }
        const answer = (await res.json()) as PeersAnswer;
        if (ctx.json) return ctx.outJson(answer);
        ctx.out(`${ctx.c.bold('node')} ${answer.node}${answer.address !== null ? `  ${answer.address}` : ctx.c.dim('  (not a cluster member)')}`);
        if (answer.peers.length === 0) {
          ctx.out(ctx.c.dim('no peers'));
          return;
        }
        const colour = { healthy: ctx.c.green, suspect: ctx.c.yellow, unreachable: ctx.c.red, left: ctx.c.dim } as const;
        const rows = answer.peers.map((p) => [p.id, p.address, p.state, p.lastSeen ?? 'never', `${p.replicationLagMs} ms`] as const);
        const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), ['ID', 'ADDRESS', 'STATE', 'LAST SEEN'][i]!.length));
        ctx.out(ctx.c.bold(['ID', 'ADDRESS', 'STATE', 'LAST SEEN', 'LAG'].map((h, i) => (i < 4 ? h.padEnd(widths[i]!) : h)).join('  ')));
        for (const [r, p] of rows.map((r, i) => [r, answer.peers[i]!] as const)) {
          ctx.out([r[0].padEnd(widths[0]!), r[1].padEnd(widths[1]!), colour[p.state](r[2].padEnd(widths[2]!)), r[3].padEnd(widths[3]!), r[4]].join('  '));
        }
      }),
    );
};
