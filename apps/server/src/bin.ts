// koru-server: the server's own executable (`kdelta start` does the same).
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { isKoruError } from '@koru/delta';
import { parseJoinAddress, parsePort } from './env.js';
import { parseAllowHosts, parseAllowOrigins } from './origin.js';
import { serve } from './serve.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const USAGE = `Usage: koru-server [options]

Serves a KoruDelta database over HTTP and WebSocket (REST under /v1, WebSocket at /v1/ws,
the web console at /), as a cluster member others can join at /v1/cluster on the same port.

Options:
  -p, --port <port>        port (default: $KORU_PORT, else $PORT, else 7878; 0 picks a free one)
  --host, -b, --bind <h>   address to listen on (default 127.0.0.1)
  -d, --db-path <dir>      database directory (default: $KORU_DB_PATH, else ~/.korudelta/db)
  --store <url>            serve a PostgreSQL store instead (postgres://user:password@host/db;
                           default: $KORU_STORE): any number of servers share it; no cluster
  --token <token>          every request, socket and peer must hold it (default: $KORU_TOKEN)
  --token-file <path>      read the token from this file, so it is not in the process list
                           (default: $KORU_TOKEN_FILE); not with --token
  --allow-origin <origin>  web origin (scheme://host[:port], or *) whose pages may call the
                           server, with CORS (repeatable or comma list; default: $KORU_ALLOW_ORIGIN);
                           other origins but the server's own get 403
  --allow-host <name>      host name requests may be addressed to besides the loopback names
                           (repeatable or comma list; default: $KORU_ALLOW_HOST)
  --insecure               allow a non-loopback address without a token
  -j, --join <host[:port]> join the cluster of this member (port 7878 if none; repeatable)
  --cluster-key <key>      secret every member must hold (default: $KORU_CLUSTER_KEY, else derived from the token)
  --advertise <host:port>  address other members dial to reach this one
  --no-console             do not serve the web console at / (served by default, without the token)
  -h, --help               print this help
  --version                print the version

Environment: KORU_LOG_LEVEL (fatal|error|warn|info|debug|trace|silent).
`;

const options = {
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  bind: { type: 'string', short: 'b' },
  'db-path': { type: 'string', short: 'd' },
  store: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  'allow-origin': { type: 'string', multiple: true },
  'allow-host': { type: 'string', multiple: true },
  insecure: { type: 'boolean' },
  join: { type: 'string', short: 'j', multiple: true },
  'cluster-key': { type: 'string' },
  advertise: { type: 'string' },
  'no-console': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

/** A mistake on the command line: one line, exit 2. */
function usage(message: string): never {
  process.stderr.write(`koru-server: ${message} (see koru-server --help)\n`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({ options, strict: true, allowPositionals: false, tokens: true });
} catch (e) {
  usage((e instanceof Error ? e.message : String(e)).split('\n')[0]!.replace(/\.$/, '').replace(/^Unknown option/, 'unknown option'));
}
const { values, tokens } = parsed;
// A setting given twice is a mistake, never silently the last one; lists repeat.
const REPEATABLE = new Set(['join', 'allow-origin', 'allow-host']);
const seen = new Set<string>();
for (const t of tokens) {
  if (t.kind !== 'option' || REPEATABLE.has(t.name)) continue;
  const name = t.name === 'bind' ? 'host' : t.name;
  if (seen.has(name)) usage(t.name === 'bind' || t.name === 'host' ? '--host / --bind given twice' : `--${t.name} given twice`);
  seen.add(name);
}
if (values.help === true) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (values.version === true) {
  process.stdout.write(`${version}\n`);
  process.exit(0);
}
let port: number | undefined;
let join: string[] = [];
let advertise: string | undefined;
let allowOrigins: string[] | undefined;
let allowHosts: string[] | undefined;
try {
  if (values.token !== undefined && values['token-file'] !== undefined) usage('--token and --token-file both give the token: give one');
  if (values['allow-origin'] !== undefined) allowOrigins = parseAllowOrigins(values['allow-origin'], '--allow-origin');
  if (values['allow-host'] !== undefined) allowHosts = parseAllowHosts(values['allow-host'], '--allow-host');
  if (values.port !== undefined) port = parsePort(values.port, '--port');
  join = (values.join ?? []).map((a) => parseJoinAddress(a));
  if (values.advertise !== undefined) advertise = parseJoinAddress(values.advertise, '--advertise');
} catch (e) {
  usage(isKoruError(e) ? e.message : String(e));
}
const host = values.host ?? values.bind;
const key = values['cluster-key'] ?? (process.env.KORU_CLUSTER_KEY || undefined);
process.exitCode = await serve({
  ...(port !== undefined ? { port } : {}),
  ...(host !== undefined ? { host } : {}),
  ...(values['db-path'] !== undefined ? { path: values['db-path'] } : {}),
  ...(values.store !== undefined ? { store: values.store } : {}),
  ...(values.token !== undefined ? { token: values.token } : {}),
  ...(values['token-file'] !== undefined ? { tokenFile: values['token-file'] } : {}),
  ...(allowOrigins !== undefined ? { allowOrigins } : {}),
  ...(allowHosts !== undefined ? { allowHosts } : {}),
  ...(values.insecure === true ? { insecure: true } : {}),
  ...(values['no-console'] === true ? { console: false as const } : {}),
  cluster: { join, ...(key !== undefined ? { key } : {}), ...(advertise !== undefined ? { advertise } : {}) },
});
