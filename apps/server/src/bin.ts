// koru-server: the server's own executable (`kdelta start` does the same).
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { isKoruError } from '@koru/delta';
import { parseJoinAddress, parsePort } from './env.js';
import { serve } from './serve.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const USAGE = `Usage: koru-server [options]

Serves a KoruDelta database over HTTP and WebSocket (REST under /v1, WebSocket at /v1/ws),
as a cluster member others can join at /v1/cluster on the same port.

Options:
  -p, --port <port>        port (default: $KORU_PORT, else $PORT, else 7878; 0 picks a free one)
  --host, -b, --bind <h>   address to listen on (default 127.0.0.1)
  -d, --db-path <dir>      database directory (default: $KORU_DB_PATH, else ~/.korudelta/db)
  --token <token>          every request, socket and peer must hold it (default: $KORU_TOKEN)
  --insecure               allow a non-loopback address without a token
  -j, --join <host[:port]> join the cluster of this member (port 7878 if none; repeatable)
  --cluster-key <key>      secret every member must hold (default: $KORU_CLUSTER_KEY, else derived from the token)
  --advertise <host:port>  address other members dial to reach this one
  -h, --help               print this help
  --version                print the version

Environment: KORU_LOG_LEVEL (fatal|error|warn|info|debug|trace|silent).
`;

const options = {
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  bind: { type: 'string', short: 'b' },
  'db-path': { type: 'string', short: 'd' },
  token: { type: 'string' },
  insecure: { type: 'boolean' },
  join: { type: 'string', short: 'j', multiple: true },
  'cluster-key': { type: 'string' },
  advertise: { type: 'string' },
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
// A setting given twice is a mistake, never silently the last one; --join repeats.
const seen = new Set<string>();
for (const t of tokens) {
  if (t.kind !== 'option' || t.name === 'join') continue;
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
try {
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
  ...(values.token !== undefined ? { token: values.token } : {}),
  ...(values.insecure === true ? { insecure: true } : {}),
  cluster: { join, ...(key !== undefined ? { key } : {}), ...(advertise !== undefined ? { advertise } : {}) },
});
