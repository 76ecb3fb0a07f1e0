/**
 * Reads by change number (the change feed, exports, streaming): each committed change on
 * this node is the next seq and its version the next row of the table (seq = row + 1),
 * so a seq leads straight to its version. The JSON forms are built from the table and the
 * stored value text, without materializing values.
 */
import { formatHlc, InvalidArgumentError } from '@koru/engine';
import type { KeyState } from './key-index.js';
import { SYSTEM_NAMESPACE } from './names.js';
import type { StoreContext } from './store-context.js';
import type { Change, Version } from './types.js';
import { FLAG_DELETED } from './version-table.js';
// Only for the {@link} links of the doc comments.
import type { CausalStorage } from './causal-storage.js';

/** The feed reads of one store, with the last change built. */
export class FeedReads {
  readonly #ctx: StoreContext;
  #lastChange: Change | undefined;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** See {@link CausalStorage.changeAt}. */
  changeAt(seq: number): Change {
    const ctx = this.#ctx;
    ctx.checkOpen();
    if (!Number.isInteger(seq) || seq < 1 || seq > ctx.seq) {
      throw new InvalidArgumentError(`no change ${String(seq)}: changes are numbered 1 to ${ctx.seq}`);
    }
    // Every subscriber asks for the same new change in turn: keep the last one built.
    if (this.#lastChange?.seq === seq) return this.#lastChange;
    const { index, reader } = ctx;
    const row = seq - 1;
    const ks = index.keyOfRow(row);
    const i = index.indexOfRow(ks, row);
    const version = reader.at(ks, i);
    // What was current just before this change: the latest in clock order of the versions
    // committed earlier. In a linear history that is simply the one before it.
    let beforeIx = i - 1;
    let superseded = false;
    if (!ks.linear) {
      const rows = ks.rows;
      beforeIx = -1;
      for (let j = rows.length - 1; j >= 0; j--) {
        if (rows[j]! >= row) continue;
        if (j > i) superseded = true;
        beforeIx = j;
        break;
      }
    }
    const before = beforeIx >= 0 ? reader.at(ks, beforeIx) : undefined;
    const previousValue = before === undefined || before.deleted ? null : before.value;
    const changeType = version.deleted ? 'delete' : previousValue === null && !superseded ? 'insert' : 'update';
    this.#lastChange = Object.freeze(superseded ? { seq, changeType, version, previousValue, superseded: true as const } : { seq, changeType, version, previousValue });
    return this.#lastChange;
  }

  /** See {@link CausalStorage.committed}. */
  *committed(fromSeq: number, toSeq: number): Generator<Version> {
    const ctx = this.#ctx;
    ctx.checkOpen();
    for (const [name, n] of [['fromSeq', fromSeq], ['toSeq', toSeq]] as const) {
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer, not ${String(n)}`);
    }
    const { index, reader } = ctx;
    const last = Math.min(toSeq, ctx.seq);
    for (let seq = Math.max(1, fromSeq); seq <= last; seq++) {
      const ks = index.keyOfRow(seq - 1);
      yield reader.at(ks, index.indexOfRow(ks, seq - 1));
    }
  }

  /** See {@link CausalStorage.committedJson}. */
  *committedJson(fromSeq: number, toSeq: number, system: boolean): Generator<string> {
    const ctx = this.#ctx;
    ctx.checkOpen();
    const last = Math.min(toSeq, ctx.seq);
    for (let seq = Math.max(1, fromSeq); seq <= last; seq++) {
      const ks = ctx.index.keyOfRow(seq - 1);
      if (!system && ks.namespace === SYSTEM_NAMESPACE) continue;
      yield this.#rowJson(ks, seq - 1);
    }
  }

  /** See {@link CausalStorage.versionsJson}. */
  versionsJson(namespace: string, key: string, ids?: ReadonlySet<string>): string[] {
    const ctx = this.#ctx;
    ctx.checkOpen();
    const ks = ctx.index.keyState(namespace, key, false);
    if (ks === undefined) return [];
    const out: string[] = [];
    for (const row of ks.rows) if (ids === undefined || ids.has(ctx.index.table.versionId(row))) out.push(this.#rowJson(ks, row));
    return out;
  }

  /** One version's JSON from the table and the stored value text. */
  #rowJson(ks: KeyState, row: number): string {
    const ctx = this.#ctx;
    const t = ctx.index.table;
    // Read afresh each time: between two calls the table may grow or a snapshot move values.
    const c = t.cols;
    const deleted = (c.flags[row]! & FLAG_DELETED) !== 0;
    const prev = c.prev[row]!;
    const wall = c.wall[row]!;
    return (
      '{"namespace":' +
      JSON.stringify(ks.namespace) +
      ',"key":' +
      JSON.stringify(ks.key) +
      ',"value":' +
      (deleted ? 'null' : ctx.adapter.readValueText(c.loc[row]!, c.len[row]!)) +
      ',"valueId":' +
      (deleted ? 'null' : `"${t.valueId(row)!}"`) +
      `,"versionId":"${t.versionId(row)}","previousVersion":` +
      (prev < 0 ? 'null' : `"${t.versionId(prev)}"`) +
      `,"timestamp":"${ctx.isoOf(wall)}","hlc":"${formatHlc({ wall, logical: c.logical[row]! })}","node":` +
      JSON.stringify(ctx.index.nodes[c.node[row]!]!) +
      `,"deleted":${deleted}}`
    );
  }
}
