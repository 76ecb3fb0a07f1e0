// The storage model test's store in a child process (a real process to kill -9): the
// child opens CausalStorage over FileAdapter on the test's directory with the model's
// clock (fixed) and runs the writes and compactions the test sends over IPC, one at a
// time, replying with each result. It loads the built package (`@koru/storage`), like
// every kill test's child.
import type { JsonValue } from '@koru/engine';
import type { Version } from '@koru/storage';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { liveWriters } from './kill-helpers.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The child: `node --input-type=module -e CHILD dir now memtableBytes`. */
const CHILD = `
import { CausalStorage } from '@koru/storage';
import { FileAdapter } from '@koru/storage/node';
const [dir, nowText, memtableBytes] = process.argv.slice(1);
const now = Number(nowText);
const s = await CausalStorage.open({ now: () => now, adapter: new FileAdapter(dir, { memtableBytes: Number(memtableBytes), syncIntervalMs: 5 }) });
process.on('message', (msg) => {
  void (async () => {
    try {
      if (msg.op === 'put') process.send({ id: msg.id, version: await s.put(msg.ns, msg.key, msg.value) });
      else if (msg.op === 'delete') process.send({ id: msg.id, version: await s.delete(msg.ns, msg.key) });
      else {
        const t0 = performance.now();
        process.send({ id: msg.id, started: true });
        await s.compact();
        process.send({ id: msg.id, ms: performance.now() - t0 });
      }
    } catch (e) {
      process.send({ id: msg.id, error: String(e?.code ?? e?.stack ?? e) });
    }
  })();
});
process.send({ ready: true });
`;

/** A write the child runs. */
export interface ChildWrite {
  readonly op: 'put' | 'delete';
  readonly ns: string;
  readonly key: string;
  readonly value: JsonValue;
}

interface Reply {
  readonly id?: number;
  readonly ready?: boolean;
  readonly version?: Version;
  readonly started?: boolean;
  readonly ms?: number;
  readonly error?: string;
}

/** A running compaction in the child: when it started, and when it finished (its duration, ms). */
export interface ChildCompaction {
  readonly started: Promise<void>;
  readonly finished: Promise<number>;
  readonly done: () => boolean;
}

/** A store open in a child process (see the module doc). */
export class ChildStore {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, (r: Reply) => void>();
  #stderr = '';
  #next = 1;
  readonly #exited: Promise<void>;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.stderr!.on('data', (c: Buffer) => (this.#stderr += c.toString()));
    child.on('message', (r: Reply) => this.#waiting.get(r.id ?? 0)?.(r));
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    // A child that dies on its own fails whatever waits for it.
    void this.#exited.then(() => {
      for (const w of this.#waiting.values()) w({ error: `the child exited (${this.#child.signalCode ?? this.#child.exitCode}): ${this.#stderr}` });
    });
  }

  /** Spawns the child on `dir` with the clock at `now`; resolves once the store is open. */
  static async start(dir: string, now: number, memtableBytes: number): Promise<ChildStore> {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, dir, String(now), String(memtableBytes)], {
      cwd: packageDir,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    liveWriters.add(child);
    const c = new ChildStore(child);
    const ready = await c.#ask(0, undefined);
    expect(ready.error, c.#stderr).toBeUndefined();
    return c;
  }

  /** Sends `msg` (unless undefined) and resolves to the reply with id `id`. */
  #ask(id: number, msg: object | undefined, onReply?: (r: Reply) => boolean): Promise<Reply> {
    return new Promise((resolve) => {
      this.#waiting.set(id, (r) => {
        if (onReply?.(r) === true) return;
        this.#waiting.delete(id);
        resolve(r);
      });
      if (msg !== undefined) this.#child.send({ id, ...msg });
    });
  }

  /** Runs one write; resolves to its version once acknowledged (an error fails the test). */
  async write(w: ChildWrite): Promise<Version> {
    const r = await this.#ask(this.#next++, w);
    expect(r.error).toBeUndefined();
    return r.version!;
  }

  /**
   * Sends one write without waiting for it (the kill may come before, during or after its
   * commit); the function returned says whether it was acknowledged.
   */
  sendWrite(w: ChildWrite): () => boolean {
    let acked = false;
    void this.#ask(this.#next++, w).then((r) => (acked = r.version !== undefined));
    return () => acked;
  }

  /** Starts `compact()`. */
  compact(): ChildCompaction {
    let finished = false;
    let markStarted!: () => void;
    const started = new Promise<void>((resolve) => (markStarted = resolve));
    const reply = this.#ask(this.#next++, { op: 'compact' }, (r) => {
      if (r.started !== true) return false;
      markStarted();
      return true;
    });
    const ms = reply.then((r) => {
      if (r.error !== undefined) throw new Error(r.error);
      finished = true;
      return r.ms!;
    });
    // Killed before it finished: nobody waits for the duration.
    ms.catch(() => {});
    return { started, finished: ms, done: () => finished };
  }

  /** kill -9, and waits for the process to be gone. */
  async kill(): Promise<void> {
    this.#waiting.clear();
    this.#child.kill('SIGKILL');
    await this.#exited;
    liveWriters.delete(this.#child);
    expect(this.#child.signalCode, this.#stderr).toBe('SIGKILL');
  }
}

/** Segment files in `dir` that its manifest does not name (outputs of a flush or merge a kill cut short). */
export function orphanSegments(dir: string): number {
  if (!existsSync(join(dir, 'MANIFEST'))) return 0;
  const buf = readFileSync(join(dir, 'MANIFEST'));
  const json = JSON.parse(buf.toString('utf8', 16, 16 + buf.readUInt32LE(8))) as { segments: Array<{ fileNumber: number }> };
  const named = new Set(json.segments.map((s) => s.fileNumber));
  return readdirSync(dir).filter((f) => f.endsWith('.kseg') && !named.has(Number(f.slice(0, -5)))).length;
}
