/**
 * Settings from the environment shared by `koru-server` and `kdelta start`: the port
 * (`KORU_PORT`, else `PORT` as platforms set it) and the log level (`KORU_LOG_LEVEL`).
 * A flag given on the command line wins over both.
 */
import { InvalidArgumentError } from '@koru/delta';
import { LOG_LEVELS, type LogLevel } from './server.js';

/** A port number: 0 (pick a free one) to 65535, digits only. @throws INVALID_ARGUMENT naming `source` */
export function parsePort(text: string, source: string): number {
  const t = text.trim();
  if (!/^\d{1,5}$/.test(t) || Number(t) > 65_535) throw new InvalidArgumentError(`${source} must be a port number from 0 to 65535, not ${JSON.stringify(text)}`);
  return Number(t);
}

/** A log level. @throws INVALID_ARGUMENT naming `source` */
export function parseLogLevel(text: string, source: string): LogLevel {
  const t = text.trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(t)) throw new InvalidArgumentError(`${source} must be one of ${LOG_LEVELS.join(', ')}, not ${JSON.stringify(text)}`);
  return t as LogLevel;
}

/**
 * The port the environment asks for: `KORU_PORT`, else `PORT`; empty counts as unset,
 * and a variable is read only when the ones before it are unset.
 * @throws INVALID_ARGUMENT for a value that is not a port
 */
export function portFromEnv(env: Readonly<Record<string, string | undefined>>): number | undefined {
  if (env.KORU_PORT?.trim()) return parsePort(env.KORU_PORT, 'KORU_PORT');
  if (env.PORT?.trim()) return parsePort(env.PORT, 'PORT');
  return undefined;
}

/** The log level `KORU_LOG_LEVEL` asks for. @throws INVALID_ARGUMENT for a value that is not one */
export function logLevelFromEnv(env: Readonly<Record<string, string | undefined>>): LogLevel | undefined {
  return env.KORU_LOG_LEVEL?.trim() ? parseLogLevel(env.KORU_LOG_LEVEL, 'KORU_LOG_LEVEL') : undefined;
}

/** The port a member listens on when a join address names none (1.0's default). */
export const DEFAULT_PORT = 7878;

/**
 * A join address: `HOST:PORT`, `HOST` (port 7878), `[v6]:PORT` or `[v6]`, as `host:port`.
 * @throws INVALID_ARGUMENT naming `source`
 */
export function parseJoinAddress(text: string, source = '--join'): string {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(text.trim());
  if (m === null) throw new InvalidArgumentError(`${source} ${JSON.stringify(text)} is not HOST or HOST:PORT`);
  const port = m[2] !== undefined ? parsePort(m[2], `the port of ${source} ${JSON.stringify(text)}`) : DEFAULT_PORT;
  if (port === 0) throw new InvalidArgumentError(`${source} ${JSON.stringify(text)} names port 0, which nobody listens on`);
  return `${m[1]}:${port}`;
}
