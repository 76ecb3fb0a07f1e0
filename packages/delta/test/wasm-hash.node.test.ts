// The worker's WebAssembly SHA-256 (src/browser/wasm-hash.ts) must give exactly the digests
// of node:crypto, which every other backend gives: a content address that differs by
// backend would fork a database's ids between a browser and a server.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fcSeed } from '@koru/vitest-preset/helpers';
import { hashBackend, setHashBackend, sha256HexOfText } from '@koru/engine';
import { installWasmHash, wasmHashBackend } from '../src/browser/wasm-hash.js';

const nodeHex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

describe('the worker’s WebAssembly SHA-256', () => {
  it('matches node:crypto on text, bytes, every padding boundary and large inputs', async () => {
    const wasm = (await wasmHashBackend())!;
    expect(wasm.name).toBe('hash-wasm');
    for (let n = 0; n <= 200; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 131 + n) & 0xff);
      expect(wasm.hexOfBytes(bytes)).toBe(nodeHex(bytes));
      expect(wasm.hexOfText('é'.repeat(n))).toBe(nodeHex('é'.repeat(n)));
    }
    const big = 'x'.repeat(100_000) + '😀';
    expect(wasm.hexOfText(big)).toBe(nodeHex(big));
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (text, bytes) => {
        expect(wasm.hexOfText(text)).toBe(nodeHex(Buffer.from(new TextEncoder().encode(text))));
        expect(wasm.hexOfBytes(bytes)).toBe(nodeHex(bytes));
      }),
      { seed: fcSeed('wasm-hash'), numRuns: 300 },
    );
  });

  it('encodes a lone surrogate as U+FFFD, as the other backends do', async () => {
    const wasm = (await wasmHashBackend())!;
    expect(wasm.hexOfText('a\ud800b')).toBe(nodeHex('a\ufffdb'));
  });

  it('installWasmHash makes it the engine’s backend', async () => {
    const before = hashBackend();
    try {
      await installWasmHash();
      expect(hashBackend().name).toBe('hash-wasm');
      expect(sha256HexOfText('koru')).toBe(nodeHex('koru'));
    } finally {
      setHashBackend(before);
    }
  });
});
