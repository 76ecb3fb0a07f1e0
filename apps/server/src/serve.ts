/**
 * Running a server as a process: the default data path, KORU_TOKEN, one ready line,
 * graceful shutdown on SIGINT/SIGTERM. Shared by `koru-server` and `kdelta start`.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isKoruError } from '@koru/delta';
import { startServer, type ServerOptions } from './server.js';

/** Serves until SIGINT/SIGTERM; resolves to the process exit code. */
export async function serve(options: ServerOptions): Promise<number> {
  const path = options.path ?? process.env.KORU_DB_PATH ?? join(homedir(), '.korudelta', 'db');
  const token = options.token ?? process.env.KORU_TOKEN;
  let server;
  try {
    server = await startServer({
      ...options,
      path,
      ...(token !== undefined ? { token } : {}),
      log: options.log ?? (process.stdout.isTTY ? 'pretty' : 'json'),
    });
  } catch (e) {
    const code = isKoruError(e) ? e.code : ((e as NodeJS.ErrnoException).code ?? 'ERROR');
    process.stderr.write(`koru: cannot start: ${e instanceof Error ? e.message : String(e)} (${code})\n`);
    return isKoruError(e) && e.code === 'INVALID_ARGUMENT' ? 2 : 1;
  }
  process.stderr.write(`koru: serving ${path} at ${server.url}${token !== undefined ? ' (token required)' : ''}\n`);
  const cluster = server.cluster;
  if (cluster !== undefined) {
    const join = options.cluster?.join ?? [];
    process.stderr.write(`koru: cluster member ${cluster.id} at ${cluster.address}${join.length > 0 ? `, joining ${join.join(', ')}` : ''}${options.cluster?.key !== undefined ? ' (cluster key required)' : ''}\n`);
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return 0;
}
