/** A PostgreSQL store's URL: checked before connecting, and shown with its secrets hidden. */
import { InvalidArgumentError } from '@koru/engine';

/**
 * Checks a store URL: `postgres://` or `postgresql://`, parseable.
 * @throws InvalidArgumentError
 */
export function checkPostgresUrl(url: unknown): asserts url is string {
  if (typeof url !== 'string' || !/^postgres(?:ql)?:\/\//i.test(url)) {
    throw new InvalidArgumentError('a PostgreSQL store is named by a postgres:// or postgresql:// URL');
  }
  try {
    new URL(url);
  } catch {
    throw new InvalidArgumentError('the PostgreSQL URL cannot be parsed');
  }
}

/** Query parameters of a connection URL that the driver reads as secrets. */
const SECRET_PARAMS = ['password', 'sslpassword'];

/** The URL without its password (in the user part or as a query parameter), for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    // pg also takes `?password=` (and `sslpassword=` for a client key): hidden as well.
    for (const name of SECRET_PARAMS) if (u.searchParams.has(name)) u.searchParams.set(name, '***');
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}
