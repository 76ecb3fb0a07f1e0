/**
 * `verify` of a PostgreSQL store: every value re-hashed against its id; every version's
 * fields re-hashed against its id, and its predecessor the key's version before it in
 * clock order; every key's head its last version, holding that version's value (a get
 * reads the head's copy). Read a thousand rows at a time; problems are listed, at most
 * 1,000, never thrown.
 */
import { valueIdOfCanonical, versionIdOf } from '@koru/engine';
import type { VerifyProblem, VerifyReport } from '@koru/storage';
import type pg from 'pg';
import { VALUE_JOIN, VERSION_COLUMNS, versionOfRow, type VersionRow } from './rows.js';

/** Runs one query of the store (its errors already KoruErrors). */
export type StoreQuery = <R extends pg.QueryResultRow>(doing: string, config: pg.QueryConfig) => Promise<R[]>;

const PAGE = 1_000;

/** Verifies the store `query` reads (see the module's comment). */
export async function verifyStore(query: StoreQuery): Promise<VerifyReport> {
  const problems: VerifyProblem[] = [];
  const note = (namespace: string, key: string, versionId: string, problem: string): void => {
    if (problems.length < 1_000) problems.push({ namespace, key, versionId, problem });
  };
  let values = 0;
  let after = '';
  for (;;) {
    const rows = await query<{ value_id: string; body: string }>('verifying values', {
      text: `SELECT value_id, body FROM koru_values WHERE value_id > $1 ORDER BY value_id LIMIT ${PAGE}`,
      values: [after],
    });
    for (const r of rows) {
      values++;
      if (valueIdOfCanonical(r.body) !== r.value_id) note('', '', r.value_id, `value ${r.value_id} does not hash to its id`);
    }
    if (rows.length < PAGE) break;
    after = rows[rows.length - 1]!.value_id;
  }
  let versions = 0;
  let keys = 0;
  let last: { ns: string; key: string; id: string; valueId: string | null; deleted: boolean } | undefined;
  let cursor: [string, string, string] = ['', '', ''];
  const closeKey = async (): Promise<void> => {
    if (last === undefined) return;
    const h = await query<{ version_id: string; value_id: string | null; deleted: boolean; body: string | null }>('verifying heads', {
      text: 'SELECT version_id, value_id, deleted, body FROM koru_heads WHERE ns = $1 AND key = $2',
      values: [last.ns, last.key],
    });
    const head = h[0];
    if (head?.version_id !== last.id) {
      note(last.ns, last.key, last.id, `the head is ${head?.version_id ?? 'missing'}, not the key's last version`);
      return;
    }
    if (head.deleted !== last.deleted || head.value_id !== last.valueId) note(last.ns, last.key, last.id, "the head's value is not its version's");
    else if (!head.deleted && (head.body === null || valueIdOfCanonical(head.body) !== head.value_id)) note(last.ns, last.key, last.id, "the head's copy of the value does not hash to its id");
  };
  for (;;) {
    const rows = await query<VersionRow>('verifying versions', {
      text: `SELECT ${VERSION_COLUMNS} FROM koru_versions v ${VALUE_JOIN} WHERE (v.ns, v.key, v.hlc) > ($1, $2, $3) ORDER BY v.ns, v.key, v.hlc LIMIT ${PAGE}`,
      values: cursor,
    });
    for (const r of rows) {
      versions++;
      const v = versionOfRow(r);
      const sameKey = last !== undefined && last.ns === r.ns && last.key === r.key;
      if (!sameKey) {
        await closeKey();
        keys++;
      }
      const expectedPrev = sameKey ? last!.id : null;
      if (v.previousVersion !== expectedPrev) note(r.ns, r.key, r.version_id, `its predecessor is ${v.previousVersion ?? 'none'}, the key's version before it is ${expectedPrev ?? 'none'}`);
      if (!v.deleted && r.body === null) note(r.ns, r.key, r.version_id, `its value ${r.value_id} is missing`);
      const id = versionIdOf({ namespace: r.ns, key: r.key, valueId: r.value_id, previousVersion: r.prev, hlc: r.hlc, node: r.node, deleted: r.deleted });
      if (id !== r.version_id) note(r.ns, r.key, r.version_id, 'its fields do not hash to its versionId');
      last = { ns: r.ns, key: r.key, id: r.version_id, valueId: r.value_id, deleted: r.deleted };
    }
    if (rows.length < PAGE) break;
    const end = rows[rows.length - 1]!;
    cursor = [end.ns, end.key, end.hlc];
  }
  await closeKey();
  return { ok: problems.length === 0, keys, versions, values, problems };
}
