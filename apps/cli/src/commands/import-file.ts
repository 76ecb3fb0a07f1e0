/**
 * `kdelta import FILE`: JSON lines (exported versions and plain writes, in file order) or
 * a KoruDelta 1.0 database file. The whole input is read and checked before anything is
 * stored; then it goes in as batches, each one atomic.
 */
import { createReadStream } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fromV1Database, isKoruError, isV1Database, KoruError, readImportLine, type ImportedVersion, type PutManyItem } from '@koru/delta';
import type { Context, Database } from '../context.js';
import { UsageError } from '../errors.js';

/** Versions (or writes) per call: each call is one atomic, checked batch. */
const IMPORT_BATCH = 5_000;
const PROGRESS_EVERY = 50_000;

/** What an import did (the `--json` document). */
export interface ImportReport {
  /** Versions added with their ids, clocks and timestamps (an export's, or made from a 1.0 file's). */
  imported: number;
  /** Versions of the input that were stored already. */
  skipped: number;
  /** Plain `{namespace, key, value}` lines written as new versions. */
  written: number;
  /** For a 1.0 database file: its keys, and how many timestamps were moved forward to keep a history in order. */
  v1?: { keys: number; timestampsMoved: number };
}

/** The input, readable line by line as many times as needed. */
interface Source {
  readonly name: string;
  lines(): AsyncIterable<string>;
  text(): Promise<string>;
}

async function sourceOf(ctx: Context, fileArg: string): Promise<Source> {
  if (fileArg === '-') {
    const text = await ctx.io.readStdin();
    return {
      name: '-',
      lines: async function* () {
        yield* text.split('\n');
      },
      text: async () => text,
    };
  }
  const path = resolve(ctx.io.cwd, fileArg);
  try {
    await access(path);
  } catch (e) {
    throw new UsageError(`cannot read ${fileArg}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return {
    name: fileArg,
    lines: () => createInterface({ input: createReadStream(path), crlfDelay: Infinity }),
    text: () => readFile(path, 'utf8'),
  };
}

/** `e` with `where` in front of its message, same code. */
function at(where: string, e: unknown): unknown {
  if (!isKoruError(e)) return e;
  return new KoruError(e.code, `${where}: ${e.message}`, { cause: e, details: e.details });
}

/** Imports `fileArg` into the command's database and prints what happened. */
export async function importFile(ctx: Context, fileArg: string): Promise<void> {
  const source = await sourceOf(ctx, fileArg);
  const v1 = await readV1(source);
  if (v1 === undefined) await checkLines(source);
  const db = await ctx.db();
  const report: ImportReport = { imported: 0, skipped: 0, written: 0 };
  const batches = new Batches(db, source.name, report, (n) => ctx.progress(`imported ${n.toLocaleString('en-US')} versions…`));
  if (v1 !== undefined) {
    report.v1 = { keys: v1.keys, timestampsMoved: v1.moved };
    for (const v of v1.versions) await batches.addVersion(v, '(1.0 database)');
  } else {
    let lineNo = 0;
    for await (const text of source.lines()) {
      lineNo++;
      if (text.trim() === '') continue;
      let line: ReturnType<typeof readImportLine>;
      try {
        // Checked (and hashed) already: now only parsed; storage checks again as it adds.
        line = readImportLine(text, { verify: false });
      } catch (e) {
        throw at(`${source.name} line ${lineNo} (changed while being imported?)`, e);
      }
      if (line.kind === 'version') await batches.addVersion(line.version, `line ${lineNo}`);
      else await batches.addWrite(line.item, `line ${lineNo}`);
    }
  }
  // Merges of what was written run in the background meanwhile; closing flushes the rest.
  await batches.flush();
  ctx.progress(undefined);
  if (ctx.json) return ctx.outJson(report);
  ctx.out(describe(report));
}

/** One line saying what an import did. */
function describe(r: ImportReport): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  let text = `imported ${n(r.imported)} versions`;
  if (r.v1 !== undefined) text += ` of ${n(r.v1.keys)} keys from a 1.0 database (version ids are new; timestamps kept, to the millisecond)`;
  if (r.skipped > 0) text += `, skipped ${n(r.skipped)} already stored`;
  if (r.written > 0) text += `, wrote ${n(r.written)} new versions from plain lines`;
  if (r.v1 !== undefined && r.v1.timestampsMoved > 0) {
    text += `; ${n(r.v1.timestampsMoved)} timestamps moved forward to the version before them (the 1.0 clock stepped back)`;
  }
  return text;
}

/**
 * The 1.0 database in `source`, or undefined for JSON lines. A 1.0 file is one JSON
 * document (on one line as 1.0 writes it, or pretty-printed).
 */
async function readV1(source: Source): Promise<ReturnType<typeof fromV1Database> | undefined> {
  let first: string | undefined;
  let more = false;
  for await (const text of source.lines()) {
    if (text.trim() === '') continue;
    if (first === undefined) first = text;
    else {
      more = true;
      break;
    }
  }
  if (first === undefined) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(first);
  } catch {
    // Pretty-printed, a document's first line is its opening brace: parse the whole input.
    if (first.trim() !== '{') return undefined;
    try {
      doc = JSON.parse(await source.text());
    } catch {
      return undefined; // then reported as JSON lines: line 1 is not JSON
    }
    if (!isV1Database(doc)) {
      throw new UsageError(`${source.name}: one JSON document that is not a 1.0 database file (expected JSON lines: an exported version or {"namespace","key","value"} per line, or {"version": 1, "current_state", "history_log"})`);
    }
    more = false;
  }
  if (!isV1Database(doc)) return undefined;
  if (more) throw new UsageError(`${source.name}: a 1.0 database file is one JSON document, but more follows it`);
  try {
    return fromV1Database(doc);
  } catch (e) {
    throw at(`${source.name} (1.0 database)`, e);
  }
}

/** Reads every line once, so that a malformed one stores nothing. */
async function checkLines(source: Source): Promise<void> {
  let lineNo = 0;
  for await (const text of source.lines()) {
    lineNo++;
    if (text.trim() === '') continue;
    try {
      readImportLine(text);
    } catch (e) {
      throw at(`${source.name} line ${lineNo}`, e);
    }
  }
}

/** Gathers versions and plain writes into batches, keeping file order across the two kinds. */
class Batches {
  #versions: ImportedVersion[] = [];
  #writes: PutManyItem[] = [];
  /** Where each item of the pending batch came from, for messages. */
  #where: string[] = [];

  constructor(
    private readonly db: Database,
    private readonly name: string,
    private readonly report: ImportReport,
    private readonly progress: (done: number) => void,
  ) {}

  async addVersion(v: ImportedVersion, where: string): Promise<void> {
    if (this.#writes.length > 0) await this.flush();
    this.#note(where);
    this.#versions.push(v);
    if (this.#versions.length >= IMPORT_BATCH) await this.flush();
  }

  async addWrite(item: PutManyItem, where: string): Promise<void> {
    if (this.#versions.length > 0) await this.flush();
    this.#note(where);
    this.#writes.push(item);
    if (this.#writes.length >= IMPORT_BATCH) await this.flush();
  }

  #note(where: string): void {
    this.#where.push(where);
  }

  async flush(): Promise<void> {
    const r = this.report;
    const before = r.imported + r.written;
    try {
      if (this.#versions.length > 0) {
        const added = await this.db.importVersions(this.#versions);
        r.imported += added;
        r.skipped += this.#versions.length - added;
      } else if (this.#writes.length > 0) {
        r.written += (await this.db.putMany(this.#writes)).length;
      }
    } catch (e) {
      const index = isKoruError(e) ? (e.details.index as number | undefined) : undefined;
      const w = this.#where;
      const where = index !== undefined && w[index] !== undefined ? w[index] : w[0] === w.at(-1) ? w[0] : `${w[0]} to ${w.at(-1)}`;
      const message = e instanceof Error ? e.message.replace(/^import item \d+ /, '') : String(e);
      const done = r.imported + r.written;
      const n = (x: number): string => x.toLocaleString('en-US');
      const note =
        done === 0
          ? 'nothing was stored'
          : r.written === 0
            ? `${n(r.imported)} versions were added before it; importing the file again skips them`
            : `${n(r.imported)} versions and ${n(r.written)} plain lines were stored before it; importing the file again would write the plain lines again`;
      throw isKoruError(e) ? new KoruError(e.code, `${this.name} ${where}: ${message} (${note})`, { cause: e, details: e.details }) : e;
    }
    this.#versions = [];
    this.#writes = [];
    this.#where = [];
    const after = r.imported + r.written;
    if (Math.floor(after / PROGRESS_EVERY) > Math.floor(before / PROGRESS_EVERY)) this.progress(after);
  }
}
