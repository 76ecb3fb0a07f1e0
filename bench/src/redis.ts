/**
 * redis for scale: redis-server on a free loopback port with no persistence, driven by
 * redis-benchmark (its own process) without pipelining and with `-P 16`. The server is
 * always stopped, also when something fails.
 */
import { execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { cpuMsOf, freePort, spawnTracked, stopProcess } from './procs.js';

export interface RedisFigure {
  readonly test: 'GET' | 'SET';
  readonly pipeline: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU redis-server used during the whole redis-benchmark run (both tests), % of one core */
  readonly serverCpuPercent: number;
}

export interface RedisRun {
  readonly version: string;
  readonly args: string;
  readonly figures: readonly RedisFigure[];
}

/** `redis-server --version` → "7.0.15"; throws when redis is not installed. */
export function redisVersion(): string {
  const out = execFileSync('redis-server', ['--version'], { encoding: 'utf8', timeout: 5_000 });
  return /v=([\w.]+)/.exec(out)?.[1] ?? out.trim();
}

/** Runs a process to completion; its stdout, or a rejection with its stderr. */
function output(command: string, args: readonly string[], timeoutMs: number): Promise<string> {
  const child = spawnTracked(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} ${args.join(' ')} exited ${code ?? signal}: ${stderr.trim().slice(0, 400)}`));
    });
  });
}

/** Parses `redis-benchmark --csv` output. */
function parseCsv(csv: string): { test: string; rps: number; p50: number; p99: number }[] {
  const lines = csv.trim().split('\n').map((l) => l.split(',').map((f) => f.replace(/^"|"$/g, '')));
  const header = lines[0] ?? [];
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`redis-benchmark CSV has no ${name} column: ${csv.slice(0, 300)}`);
    return i;
  };
  const [test, rps, p50, p99] = [col('test'), col('rps'), col('p50_latency_ms'), col('p99_latency_ms')];
  return lines.slice(1).map((f) => ({ test: f[test]!, rps: Number(f[rps]), p50: Number(f[p50]), p99: Number(f[p99]) }));
}

/**
 * Starts redis-server (`--save '' --appendonly no`), runs
 * `redis-benchmark -t get,set -n <requests> -q --csv -d <valueBytes> -r <keys>` once
 * without pipelining and once with `-P 16` (50 clients, its default), stops it.
 */
export async function runRedis(requests: number, valueBytes: number, keys: number): Promise<RedisRun> {
  const version = redisVersion();
  const port = await freePort();
  const server = spawnTracked('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('redis-server not ready in 10 s')), 10_000);
      server.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      server.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited ${code}`));
      });
      createInterface({ input: server.stdout! }).on('line', (line) => {
        if (line.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const figures: RedisFigure[] = [];
    const base = ['-h', '127.0.0.1', '-p', String(port), '-t', 'get,set', '-n', String(requests), '-q', '--csv', '-d', String(valueBytes), '-r', String(keys)];
    for (const pipeline of [1, 16]) {
      const cpu0 = cpuMsOf(server.pid!) ?? Number.NaN;
      const t0 = performance.now();
      const csv = await output('redis-benchmark', pipeline === 1 ? base : [...base, '-P', String(pipeline)], 120_000);
      const serverCpuPercent = (((cpuMsOf(server.pid!) ?? Number.NaN) - cpu0) * 100) / (performance.now() - t0);
      for (const r of parseCsv(csv)) {
        if (r.test === 'GET' || r.test === 'SET') figures.push({ test: r.test, pipeline, rps: r.rps, p50Ms: r.p50, p99Ms: r.p99, serverCpuPercent });
      }
    }
    return { version, args: `-t get,set -n ${requests} -q --csv -d ${valueBytes} -r ${keys} (50 clients)`, figures };
  } finally {
    await stopProcess(server, 'SIGKILL', 5_000);
  }
}
