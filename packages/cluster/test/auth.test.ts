// Handshake proofs and sealed frames: what a peer without the key, or a relay that alters
// or replays frames, cannot do.
import { describe, expect, it } from 'vitest';
import { proofMatches, proofOf, randomNonce, seal, sessionKeyOf, unseal } from '../src/auth.js';

describe('cluster authentication', () => {
  it('proves the key over the other side’s nonce, bound to role and both node ids', () => {
    const n = randomNonce();
    expect(n).toMatch(/^[0-9a-f]{64}$/);
    expect(randomNonce()).not.toBe(n);
    const p = proofOf('k', 'client', n, 'a', 'b');
    expect(proofMatches(p, proofOf('k', 'client', n, 'a', 'b'))).toBe(true);
    for (const other of [
      proofOf('other', 'client', n, 'a', 'b'),
      proofOf(undefined, 'client', n, 'a', 'b'),
      proofOf('k', 'server', n, 'a', 'b'),
      proofOf('k', 'client', randomNonce(), 'a', 'b'),
      proofOf('k', 'client', n, 'b', 'a'),
    ]) {
      expect(proofMatches(p, other)).toBe(false);
    }
    expect(proofMatches(p, p.slice(1))).toBe(false);
  });

  it('seals frames: any change, or a frame from another session, fails', () => {
    const key = sessionKeyOf('k', randomNonce(), randomNonce());
    const text = JSON.stringify({ t: 'ping', id: 1, gossip: [] });
    const frame = seal(key, text);
    expect(unseal(key, frame)).toBe(text);
    for (let i = 0; i < frame.length; i++) {
      const altered = frame.slice(0, i) + String.fromCharCode(frame.charCodeAt(i) ^ 2) + frame.slice(i + 1);
      expect(unseal(key, altered), `changed at ${i}`).toBeUndefined();
    }
    // Replayed into another link (other nonces, so another session key): refused.
    expect(unseal(sessionKeyOf('k', randomNonce(), randomNonce()), frame)).toBeUndefined();
    expect(unseal(key, 'x')).toBeUndefined();
    expect(unseal(key, text)).toBeUndefined();
  });
});
