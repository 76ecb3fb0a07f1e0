/** The in-memory adapter: values live in an array, nothing survives the process. Browser-safe. */
import { canonicalJson, type JsonValue } from '@koru/engine';
import type { CommitEntry, LoadedState, Relocation, StorageAdapter } from './adapter.js';

function randomNodeId(): string {
  const b = new Uint8Array(8);
  globalThis.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Keeps everything in RAM. The default adapter of `new CausalStorage()`. */
export class MemoryAdapter implements StorageAdapter {
  readonly name = 'memory';
  readonly synchronous = true;
  readonly #values: JsonValue[] = [];
  readonly #nodeId: string;

  constructor(nodeId: string = randomNodeId()) {
    this.#nodeId = nodeId;
  }

  open(): LoadedState {
    return { nodeId: this.#nodeId, snapshot: null, log: [], report: () => ({ replayed: 0, fromSnapshot: 0 }) };
  }

  append(entries: readonly CommitEntry[]): void {
    for (const e of entries) {
      if (e.valueText === null) continue;
      e.loc = this.#values.length;
      e.len = e.valueText.length;
      this.#values.push(e.value);
    }
  }

  readValue(loc: number): JsonValue {
    // Values were frozen when they were canonicalized.
    return this.#values[loc] ?? null;
  }

  readValueText(loc: number): string {
    // Stored values already passed the store's limits, which may exceed the defaults.
    return canonicalJson(this.#values[loc] ?? null, { maxBytes: Infinity, maxDepth: Infinity });
  }

  diskBytes(): number {
    return 0;
  }

  wantsSnapshot(): boolean {
    return false;
  }

  snapshot(): Relocation | null {
    return null;
  }

  close(): void {}
}
