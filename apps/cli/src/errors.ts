/**
 * How failures leave the CLI: exit codes and one-line messages.
 * 0 success; 1 not found or the operation failed; 2 usage or input error.
 */
import { ErrorCodes, isKoruError, KoruError } from '@koru/delta';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends KoruError {
  constructor(message: string) {
    super(ErrorCodes.INVALID_ARGUMENT, message);
  }
}

/** Codes that mean the input was wrong (exit 2) rather than the operation failing (exit 1). */
const INPUT_CODES = new Set<string>([
  ErrorCodes.INVALID_NAMESPACE,
  ErrorCodes.INVALID_KEY,
  ErrorCodes.INVALID_VALUE,
  ErrorCodes.VALUE_TOO_LARGE,
  ErrorCodes.VALUE_TOO_DEEP,
  ErrorCodes.INVALID_ARGUMENT,
  ErrorCodes.INVALID_QUERY,
  ErrorCodes.LIMIT_EXCEEDED,
  // A version stamped far ahead of this clock (an import's file, a forged record).
  ErrorCodes.CLOCK_SKEW,
]);

/** The exit code for an error thrown by a command. */
export function exitCodeOf(e: unknown): number {
  return isKoruError(e) && INPUT_CODES.has(e.code) ? EXIT_USAGE : EXIT_FAILED;
}

/** A hint appended to some errors, saying how to fix them. */
export function hintFor(e: unknown): string | undefined {
  if (!isKoruError(e)) return undefined;
  switch (e.code) {
    case ErrorCodes.DATABASE_LOCKED:
      return 'stop the process holding it, or point -d / KORU_DB_PATH at another directory';
    case ErrorCodes.CORRUPTION:
      return 'run `kdelta repair` to keep what precedes the damage (the damaged file is kept aside), or restore from an export';
    default:
      return undefined;
  }
}
