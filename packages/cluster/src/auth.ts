/**
 * Peer authentication and frame integrity. With a cluster key, each side of a new link
 * proves it holds the key by an HMAC over the other side's fresh random nonce (so a
 * recorded handshake cannot be replayed), and every later frame carries an HMAC under a
 * key derived from both nonces (so a frame cannot be forged, altered, or replayed into
 * another link). Without a cluster key the same code runs with a fixed public key: the
 * MAC then only catches corrupted frames, it proves nothing. Binary frames (checkpoint
 * chunks) carry the same MAC over all their bytes.
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

/** Bytes of the MAC closing a binary frame (128 bits, as in text frames). */
const MAC_BYTES = 16;
/** Bytes of the header length opening a binary frame. */
const HEADER_LENGTH_BYTES = 4;

/**
 * A binary frame: a message's JSON header and raw bytes that go with it (a checkpoint
 * chunk without base64), as `header length (u32 BE) ‖ header (UTF-8) ‖ payload ‖ MAC`,
 * the MAC a 128-bit HMAC of everything before it.
 */
export function sealBinary(sessionKey: Buffer, header: string, payload: Uint8Array): Buffer {
  const headerBytes = Buffer.byteLength(header, 'utf8');
  const frame = Buffer.allocUnsafe(HEADER_LENGTH_BYTES + headerBytes + payload.length + MAC_BYTES);
  frame.writeUInt32BE(headerBytes, 0);
  frame.write(header, HEADER_LENGTH_BYTES, 'utf8');
  frame.set(payload, HEADER_LENGTH_BYTES + headerBytes);
  const body = frame.length - MAC_BYTES;
  createHmac('sha256', sessionKey).update(frame.subarray(0, body)).digest().copy(frame, body, 0, MAC_BYTES);
  return frame;
}

/**
 * The header and payload of a binary frame (the payload a view into `frame`, not a
 * copy), or undefined when the frame is too short, its header length does not fit it,
 * or its MAC does not match: nothing of it is read before the MAC is checked.
 */
export function unsealBinary(sessionKey: Buffer, frame: Uint8Array): { header: string; payload: Uint8Array } | undefined {
  if (frame.length < HEADER_LENGTH_BYTES + MAC_BYTES) return undefined;
  const body = frame.length - MAC_BYTES;
  const mac = createHmac('sha256', sessionKey).update(frame.subarray(0, body)).digest().subarray(0, MAC_BYTES);
  if (!timingSafeEqual(mac, frame.subarray(body))) return undefined;
  const view = Buffer.from(frame.buffer, frame.byteOffset, frame.length);
  const headerBytes = view.readUInt32BE(0);
  if (headerBytes > body - HEADER_LENGTH_BYTES) return undefined;
  const at = HEADER_LENGTH_BYTES + headerBytes;
  return { header: view.toString('utf8', HEADER_LENGTH_BYTES, at), payload: frame.subarray(at, body) };
}
