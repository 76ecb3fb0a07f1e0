/** Query and view results: a table of documents (key + top-level fields) or the JSON. */
import type { JsonValue } from '@koru/client';
import { useState } from 'preact/hooks';
import { JsonTree } from './json-tree.js';
import { hrefOf } from './route.js';

/** Columns shown at most (the rest is in the JSON view). */
const MAX_COLUMNS = 12;

/** The column of documents that are not objects. */
const WHOLE = '(value)';

function isObject(v: JsonValue): v is { readonly [k: string]: JsonValue } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function cell(v: JsonValue | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  const t = JSON.stringify(v);
  return t.length > 80 ? `${t.slice(0, 79)}…` : t;
}

/** `rows` of namespace `ns` as a table or as JSON, the reader's choice. */
export function Results({ ns, rows, label }: { readonly ns: string; readonly rows: ReadonlyArray<{ readonly key: string; readonly value: JsonValue }>; readonly label: string }) {
  const [as, setAs] = useState<'table' | 'json'>('table');
  const columns: string[] = [];
  let scalars = false;
  for (const r of rows) {
    if (!isObject(r.value)) scalars = true;
    else for (const k of Object.keys(r.value)) if (!columns.includes(k) && columns.length < MAX_COLUMNS) columns.push(k);
  }
  // Documents that are not objects (a number, a list) show whole in a column of their own.
  if (scalars) columns.unshift(WHOLE);
  return (
    <div>
      <fieldset class="toggle">
        <legend class="visually-hidden">Show {label} as</legend>
        {(['table', 'json'] as const).map((k) => (
          <label key={k}>
            <input type="radio" name={`as-${label}`} value={k} checked={as === k} onChange={() => setAs(k)} /> {k === 'table' ? 'Table' : 'JSON'}
          </label>
        ))}
      </fieldset>
      {as === 'json' ? (
        <JsonTree value={rows.map((r) => ({ key: r.key, value: r.value }))} label={label} />
      ) : (
        <div class="scroll">
          <table class="list results" aria-label={label}>
            <thead>
              <tr>
                <th scope="col">key</th>
                {columns.map((c) => (
                  <th key={c} scope="col">
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.key}>
                  <th scope="row">
                    <a href={hrefOf({ page: 'key', ns, key: r.key, tab: 'value' })}>{r.key}</a>
                  </th>
                  {columns.map((c) => (
                    <td key={c}>{c === WHOLE ? (isObject(r.value) ? '' : cell(r.value)) : isObject(r.value) ? cell(r.value[c]) : ''}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
