/** Parsing of positional arguments: `ns/key`, JSON values, times, numbers. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { JsonValue } from '@koru/delta';
import { UsageError } from './errors.js';
import type { Io } from './io.js';

/** `users/alice` → namespace and key, split at the first `/` (keys may contain more). */
export function parseTarget(text: string): { namespace: string; key: string } {
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1) {
    throw new UsageError(`expected NAMESPACE/KEY (e.g. users/alice), got ${JSON.stringify(text)}`);
  }
  return { namespace: text.slice(0, slash), key: text.slice(slash + 1) };
}

/**
 * A JSON value from the command line: the argument itself, `@path` for a file's
 * contents, or `-` for standard input.
 */
export async function readJsonArgument(arg: string, io: Io): Promise<JsonValue> {
  let text = arg;
  let source = 'the value';
  if (arg === '-') {
    text = await io.readStdin();
    source = 'standard input';
  } else if (arg.startsWith('@')) {
    const path = resolve(io.cwd, arg.slice(1));
    source = path;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
  try {
    return JSON.parse(text) as JsonValue;
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    const bare = arg !== '-' && !arg.startsWith('@') && /^[^\s"{[\-0-9]/.test(arg.trim()) && !/^(true|false|null)$/.test(arg.trim());
    const hint = bare ? ` (strings must be quoted JSON: '${JSON.stringify(arg)}')` : '';
    throw new UsageError(`${source} is not valid JSON: ${reason}${hint}`);
  }
}

/** A non-negative integer option. */
export function parseCount(text: string, option: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${option} must be a non-negative integer, got ${JSON.stringify(text)}`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new UsageError(`${option} is too large: ${text}`);
  return n;
}

/** An integer option that may be negative (history indexes: -1 is the latest). */
export function parseIndex(text: string, option: string): number {
  if (!/^-?\d+$/.test(text)) throw new UsageError(`${option} must be an integer (0 = oldest, -1 = latest), got ${JSON.stringify(text)}`);
  return Number(text);
}
