/** Bearer-token checks in constant time; the token itself is never logged. */
import { createHash, timingSafeEqual } from 'node:crypto';

/** A checker for `token` (undefined: everything is allowed). */
export function tokenChecker(token: string | undefined): (presented: string | undefined) => boolean {
  if (token === undefined) return () => true;
  // Compare digests: equal lengths whatever is presented, so timing says nothing.
  const want = createHash('sha256').update(token).digest();
  return (presented) => presented !== undefined && timingSafeEqual(createHash('sha256').update(presented).digest(), want);
}

/** The token of an `Authorization: Bearer …` header. */
export function bearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m?.[1];
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
