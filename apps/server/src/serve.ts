/**
 * Running a server as a process: the default data path (or KORU_STORE), KORU_TOKEN / KORU_TOKEN_FILE,
 * KORU_PORT / PORT, KORU_LOG_LEVEL, KORU_ALLOW_ORIGIN / KORU_ALLOW_HOST, one ready line
 * (and one for the web console), graceful shutdown on SIGINT/SIGTERM. Shared by
 * `koru-server` and `kdelta start`.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, isKoruError } from '@koru/delta';
import { isLoopback } from './auth.js';
import { logLevelFromEnv, portFromEnv } from './env.js';
import { parseAllowHosts, parseAllowOrigins } from './origin.js';
import { startServer, type ServerOptions } from './server.js';
import { tokenOf } from './token-file.js';

/** Options of {@link serve}: a server's, and where to read the token from. */
export interface ServeOptions extends ServerOptions {
  /** A file holding the token (`--token-file`); refused together with `token`. */
  readonly tokenFile?: string;
}

/**
 * Serves until SIGINT/SIGTERM; resolves to the process exit code (0 after a clean stop,
 * 2 for a usage error such as an unsafe bind or a bad environment value, 1 otherwise).
 * Options given win over the environment.
 */
export async function serve(serveOptions: ServeOptions): Promise<number> {
  const { tokenFile, ...options } = serveOptions;
  let token: string | undefined;
  let server;
  let where: string;
  try {
    const { path, store } = whereOf(options, process.env);
    // The store's password stays out of every line this prints.
    where = store !== undefined ? (await import('@koru/storage-postgres')).redactUrl(store) : path!;
    token = tokenOf({ token: options.token, tokenFile }, process.env);
    const env = process.env;
    const allowOrigins = options.allowOrigins ?? (env.KORU_ALLOW_ORIGIN?.trim() ? parseAllowOrigins([env.KORU_ALLOW_ORIGIN], 'KORU_ALLOW_ORIGIN') : undefined);
    const allowHosts = options.allowHosts ?? (env.KORU_ALLOW_HOST?.trim() ? parseAllowHosts([env.KORU_ALLOW_HOST], 'KORU_ALLOW_HOST') : undefined);
    // A setting given as an option wins: the environment is not even read for it.
    const port = options.port ?? portFromEnv(process.env);
    const logLevel = options.logLevel ?? logLevelFromEnv(process.env);
    server = await startServer({
      ...options,
      ...(store !== undefined ? { store } : { path: path! }),
      ...(port !== undefined ? { port } : {}),
      ...(logLevel !== undefined ? { logLevel } : {}),
      ...(token !== undefined ? { token } : {}),
      ...(allowOrigins !== undefined ? { allowOrigins } : {}),
      ...(allowHosts !== undefined ? { allowHosts } : {}),
      log: options.log ?? (process.stdout.isTTY ? 'pretty' : 'json'),
    });
  } catch (e) {
    const code = isKoruError(e) ? e.code : ((e as NodeJS.ErrnoException).code ?? 'ERROR');
    process.stderr.write(`koru: cannot start: ${(e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ')} (${code})\n`);
    return isKoruError(e) && e.code === 'INVALID_ARGUMENT' ? 2 : 1;
  }
  process.stderr.write(`koru: serving ${where} at ${server.url}${token !== undefined ? ' (token required)' : ''}\n`);
  if (server.console !== undefined) {
    process.stderr.write(server.console.built ? `koru: web console at ${server.console.url}\n` : `koru: web console not built (no index.html in ${server.console.dir}): ${server.console.url} answers 404\n`);
  }
  const cluster = server.cluster;
  if (cluster !== undefined && options.cluster !== false) {
    const join = options.cluster?.join ?? [];
    const secret = options.cluster?.key !== undefined && options.cluster.key !== '' ? ' (cluster key required)' : token !== undefined ? ' (peers must hold the same token)' : '';
    process.stderr.write(`koru: cluster member ${cluster.id} at ${cluster.address}${join.length > 0 ? `, joining ${join.join(', ')}` : ', others can join it'}${secret}\n`);
    // Members dial each other: one on another machine cannot reach a loopback address.
    const far = join.filter((a) => !isLoopback(a.replace(/:\d+$/, '').replace(/^\[|\]$/g, '')));
    if (far.length > 0 && isLoopback(cluster.address.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''))) {
      process.stderr.write(`koru: warning: ${far.join(', ')} cannot reach this member at ${cluster.address}; listen beyond loopback (--host, with --token) or give --advertise HOST:PORT\n`);
    }
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return 0;
}

/**
 * Where the data is: `store` (else KORU_STORE) or `path` (else KORU_DB_PATH), else the
 * default directory. A store and a directory named together, by options or the
 * environment, are refused: which one was meant is not for the server to guess (as
 * kdelta refuses them).
 * @throws INVALID_ARGUMENT
 */
export function whereOf(options: { readonly path?: string; readonly store?: string }, env: NodeJS.ProcessEnv): { readonly path?: string; readonly store?: string } {
  const store = options.store !== undefined ? { value: options.store, from: 'a store' } : env.KORU_STORE ? { value: env.KORU_STORE, from: 'KORU_STORE' } : undefined;
  const path = options.path !== undefined ? { value: options.path, from: 'a database directory' } : env.KORU_DB_PATH ? { value: env.KORU_DB_PATH, from: 'KORU_DB_PATH' } : undefined;
  if (store !== undefined && path !== undefined) throw new InvalidArgumentError(`${store.from} and ${path.from} both say where the data lives: give one`);
  if (store !== undefined) return { store: store.value };
  return { path: path?.value ?? env.KORU_DB_PATH ?? join(homedir(), '.korudelta', 'db') };
}
