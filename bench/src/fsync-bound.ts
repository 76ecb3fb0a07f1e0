/** The file-system bound for fsync-per-write policies: one 4 KiB append + fdatasync, timed. */
import { closeSync, fdatasyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { median } from './measure.js';

const BLOCK = 4096;
const WARMUP = 10;

/** Median and p90 ms of `samples` appends of 4 KiB each followed by fdatasync, in a file under `dir`. */
export function measureFdatasync(dir: string, samples: number): { medianMs: number; p90Ms: number } {
  const path = join(dir, 'fdatasync-probe');
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(BLOCK, 0x6b);
  const times: number[] = [];
  let position = 0;
  try {
    for (let i = 0; i < WARMUP + samples; i++) {
      const t0 = process.hrtime.bigint();
      writeSync(fd, block, 0, BLOCK, position);
      fdatasyncSync(fd);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      position += BLOCK;
      if (i >= WARMUP) times.push(ms);
    }
  } finally {
    closeSync(fd);
    unlinkSync(path);
  }
  times.sort((a, b) => a - b);
  return { medianMs: median(times), p90Ms: times[Math.floor(times.length * 0.9)]! };
}
