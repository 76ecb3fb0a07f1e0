/**
 * Peer authentication and frame integrity. With a cluster key, each side of a new link
 * proves it holds the key by an HMAC over the other side's fresh random nonce (so a
 * recorded handshake cannot be replayed), and every later frame carries an HMAC under a
 * key derived from both nonces (so a frame cannot be forged, altered, or replayed into
 * another link). Without a cluster key the same code runs with a fixed public key: the
 * MAC then only catches corrupted frames, it proves nothing.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The key used when the cluster has none: public, so it authenticates nothing. */
const OPEN_KEY = 'koru-cluster-open';

/**
 * The cluster key of a server that has an HTTP token and no cluster key of its own: an
 * HMAC of the token under a fixed label. Members sharing the token share this key; the
 * token itself never goes on the wire, and the key says nothing about it.
 */
export function clusterKeyFromToken(token: string): string {
  return createHmac('sha256', 'koru-cluster/1 cluster key from the HTTP token').update(token, 'utf8').digest('hex');
}

/** A fresh 32-byte nonce, hex. */
export function randomNonce(): string {
  return randomBytes(32).toString('hex');
}

/** One side's proof: HMAC of the other side's nonce, both node ids and the side's role. */
export function proofOf(clusterKey: string | undefined, role: 'client' | 'server', nonce: string, from: string, to: string): string {
  return createHmac('sha256', clusterKey ?? OPEN_KEY)
    .update(`koru-cluster/1|${role}|${nonce}|${JSON.stringify(from)}|${JSON.stringify(to)}`)
    .digest('hex');
}

/** Constant-time comparison of two hex proofs. */
export function proofMatches(expected: string, actual: string): boolean {
  if (expected.length !== actual.length) return false;
  return timingSafeEqual(Buffer.from(expected, 'utf8'), Buffer.from(actual, 'utf8'));
}

/** The key that seals a link's frames, derived from the cluster key and both nonces. */
export function sessionKeyOf(clusterKey: string | undefined, serverNonce: string, clientNonce: string): Buffer {
  return createHmac('sha256', clusterKey ?? OPEN_KEY).update(`koru-cluster/1|session|${serverNonce}|${clientNonce}`).digest();
}

const MAC_HEX = 32;

/** `text` followed by a newline and a 128-bit HMAC of it (JSON text never holds a raw newline). */
export function seal(sessionKey: Buffer, text: string): string {
  return `${text}\n${createHmac('sha256', sessionKey).update(text).digest('hex').slice(0, MAC_HEX)}`;
}

/** The text of a sealed frame, or undefined when its MAC does not match (altered or forged). */
export function unseal(sessionKey: Buffer, frame: string): string | undefined {
  const cut = frame.length - MAC_HEX - 1;
  if (cut < 0 || frame.charCodeAt(cut) !== 10) return undefined;
  const text = frame.slice(0, cut);
  const mac = createHmac('sha256', sessionKey).update(text).digest('hex').slice(0, MAC_HEX);
  return proofMatches(mac, frame.slice(cut + 1)) ? text : undefined;
}
