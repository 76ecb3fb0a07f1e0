/**
 * A token read from a file (`--token-file`, `KORU_TOKEN_FILE`), so it never appears in
 * the process list as `--token` would.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '@koru/delta';

/**
 * The token in the file at `path`: its text without the trailing newline(s) an editor or
 * `echo` adds. @throws INVALID_ARGUMENT naming `source` when the file cannot be read or
 * holds no token
 */
export function readTokenFile(path: string, source = '--token-file'): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InvalidArgumentError(`${source} ${JSON.stringify(path)} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const token = text.replace(/[\r\n]+$/, '');
  if (token.trim() === '') throw new InvalidArgumentError(`${source} ${JSON.stringify(path)} is empty: it must hold the token`);
  if (/[\r\n]/.test(token)) throw new InvalidArgumentError(`${source} ${JSON.stringify(path)} holds more than one line: it must hold the token alone`);
  return token;
}

/**
 * The token a server process uses: `--token`, else `--token-file`, else `KORU_TOKEN`, else
 * `KORU_TOKEN_FILE` (a flag given wins and the environment is not read for it).
 * @throws INVALID_ARGUMENT when both flags, or both variables, are given, or for a bad file
 */
export function tokenOf(flags: { readonly token?: string | undefined; readonly tokenFile?: string | undefined }, env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (flags.token !== undefined && flags.tokenFile !== undefined) throw new InvalidArgumentError('--token and --token-file both give the token: give one');
  if (flags.token !== undefined) return flags.token === '' ? undefined : flags.token;
  if (flags.tokenFile !== undefined) return readTokenFile(flags.tokenFile);
  const fromEnv = env.KORU_TOKEN || undefined;
  const fileFromEnv = env.KORU_TOKEN_FILE || undefined;
  if (fromEnv !== undefined && fileFromEnv !== undefined) throw new InvalidArgumentError('KORU_TOKEN and KORU_TOKEN_FILE both give the token: set one');
  if (fileFromEnv !== undefined) return readTokenFile(fileFromEnv, 'KORU_TOKEN_FILE');
  return fromEnv;
}
