/**
 * Database paths in a browser: names for an OPFS subdirectory (under `koru/`) or an
 * IndexedDB database (`koru:<path>`). Only letters, digits, `.`, `_`, `-`, with `/`
 * between parts, so a path names one place on every backend and escapes none.
 */
import { InvalidArgumentError } from '@koru/engine';

const PART = /^[A-Za-z0-9._-]{1,100}$/;

/** The parts of `path` (`a/b` → ['a', 'b']). @throws InvalidArgumentError for a bad path */
export function pathParts(path: unknown): string[] {
  if (typeof path !== 'string' || path.length === 0 || path.length > 255) {
    throw new InvalidArgumentError(`a browser database path is a non-empty string of at most 255 characters, not ${JSON.stringify(path)}`);
  }
  const parts = path.split('/');
  for (const p of parts) {
    if (!PART.test(p) || p === '.' || p === '..') {
      throw new InvalidArgumentError(
        `bad browser database path ${JSON.stringify(path)}: each part between '/' is 1 to 100 letters, digits, '.', '_' or '-', and not '.' or '..'`,
      );
    }
  }
  return parts;
}
