// Readers of the on-disk formats, written from their documentation (log-format.ts,
// snapshot-format.ts) rather than imported from the source, plus small file helpers.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

/** One log record: where it starts and ends, and its metadata. */
export interface LogRecord {
  readonly start: number;
  readonly end: number;
  readonly meta: { s: number; ns: string; k: string; b: number; d?: 1; r?: [number, number] };
  readonly value: string | null;
}

/** Every record of a log file (16-byte header, then magic | length | CRC | body). */
export function parseLog(buf: Buffer): LogRecord[] {
  expect8(buf.subarray(0, 8).toString('latin1'), 'KDLOG001');
  const out: LogRecord[] = [];
  let at = 16;
  while (at < buf.length) {
    if (buf.readUInt32LE(at) !== 0x4b445231) throw new Error(`no record magic at ${at}`);
    const len = buf.readUInt32LE(at + 4);
    const body = buf.toString('utf8', at + 12, at + 12 + len);
    const nl = body.indexOf('\n');
    const meta = JSON.parse(body.slice(0, nl)) as LogRecord['meta'];
    out.push({ start: at, end: at + 12 + len, meta, value: nl + 1 < body.length ? body.slice(nl + 1) : null });
    at += 12 + len;
  }
  return out;
}

function expect8(got: string, want: string): void {
  if (got !== want) throw new Error(`bad magic ${JSON.stringify(got)}, expected ${want}`);
}

/** A snapshot's footer, as documented. */
export interface SnapshotFooter {
  readonly gen: number;
  readonly count: number;
  readonly seq: number;
  readonly nodes: string[];
  readonly columns: Array<{ name: string; offset: number; bytes: number; crc: number }>;
  readonly keys: { offset: number; jsonBytes: number; rowBytes: number; crc: number };
  readonly values: { offset: number; bytes: number };
}

/** The parts of a snapshot file: footer, footer position, and every stored value. */
export function parseSnapshot(buf: Buffer): {
  footer: SnapshotFooter;
  footerAt: number;
  values: Array<{ at: number; text: string }>;
} {
  expect8(buf.subarray(0, 8).toString('latin1'), 'KDSNAP01');
  expect8(buf.subarray(buf.length - 8).toString('latin1'), 'KDSNAPND');
  const footerLen = buf.readUInt32LE(buf.length - 16);
  const footerAt = buf.length - 16 - footerLen;
  const footer = JSON.parse(buf.toString('utf8', footerAt, footerAt + footerLen)) as SnapshotFooter;
  const values: Array<{ at: number; text: string }> = [];
  let at = footer.values.offset;
  const end = at + footer.values.bytes;
  while (at < end) {
    const len = buf.readUInt32LE(at);
    values.push({ at, text: buf.toString('utf8', at + 8, at + 8 + len) });
    at += 8 + len;
  }
  return { footer, footerAt, values };
}

/** Flips one bit of a file in place. */
export function flipBit(file: string, offset: number, bit = 0): void {
  const buf = readFileSync(file);
  if (offset < 0 || offset >= buf.length) throw new Error(`offset ${offset} outside ${file} (${buf.length} bytes)`);
  buf[offset]! ^= 1 << bit;
  writeFileSync(file, buf);
}

/** The error a promise rejects with (fails when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<{ code?: string; message: string; details?: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; message: string; details?: Record<string, unknown> };
  }
  throw new Error('expected a rejection');
}

/** The files of a database directory, sorted, without the `SYNCED` checkpoint (written on a timer). */
export function dataFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f !== 'SYNCED')
    .sort();
}
