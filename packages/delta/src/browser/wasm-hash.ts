/**
 * A faster SHA-256 for the database worker: a browser has no synchronous native SHA-256
 * (WebCrypto's digest is async, and the engine hashes inside synchronous commits), and the
 * portable backend (@noble/hashes) is the slower half: hash-wasm's WebAssembly SHA-256
 * digests ~200-byte documents about twice as fast (measured on Node's V8); the worker
 * hashes every value and every version it stores with it.
 */
import { setHashBackend, toHex, type HashBackend } from '@koru/engine';
import { createSHA256 } from 'hash-wasm';

const encoder = new TextEncoder();

/**
 * A backend over hash-wasm's SHA-256, or undefined where WebAssembly cannot be compiled
 * (a page whose Content-Security-Policy lacks 'wasm-unsafe-eval'): the engine then keeps
 * its portable backend, with the same digests.
 */
export async function wasmHashBackend(): Promise<HashBackend | undefined> {
  let hasher: Awaited<ReturnType<typeof createSHA256>>;
  try {
    hasher = await createSHA256();
  } catch {
    return undefined;
  }
  const hexOfBytes = (bytes: Uint8Array): string => {
    hasher.init();
    hasher.update(bytes);
    return toHex(hasher.digest('binary'));
  };
  return {
    name: 'hash-wasm',
    // Text is encoded here, not by hash-wasm, so that a lone surrogate becomes U+FFFD
    // exactly as in every other backend (TextEncoder's rule).
    hexOfText: (text) => hexOfBytes(encoder.encode(text)),
    hexOfBytes,
  };
}

/** Installs {@link wasmHashBackend} when it can be had; resolves either way. */
export async function installWasmHash(): Promise<void> {
  const backend = await wasmHashBackend();
  if (backend !== undefined) setHashBackend(backend);
}
