/**
 * The query editor: a namespace, a filter in the expression language (`age > 30 and
 * city = "Oslo"`, checked as it is typed, a mistake pointed at by column), sort, limit,
 * offset and projection, or an aggregation; the results as of now or of any moment; how
 * the query ran (`explain`); and the query saved as a view.
 */
import type { KoruClient, QueryResult } from '@koru/client';
import { useState } from 'preact/hooks';
import { buildQuery, EMPTY_FIELDS, type QueryFields } from '../query-form.js';
import { JsonTree } from '../json-tree.js';
import { Results } from '../results.js';
import { go, hrefOf } from '../route.js';
import { errorText, formatTime, OutcomeNote, plural, useLoad, type Outcome } from '../ui.js';

export function QueryPage({ client, ns }: { readonly client: KoruClient; readonly ns: string | undefined }) {
  const names = useLoad(() => client.listNamespaces(), [client]);
  const [f, setF] = useState<QueryFields>(EMPTY_FIELDS);
  const [at, setAt] = useState('');
  const [ran, setRan] = useState<{ readonly result: QueryResult; readonly ms: number; readonly at?: string } | undefined>();
  const [failure, setFailure] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const built = buildQuery(f);
  const set = (k: keyof QueryFields) => (e: { currentTarget: { value: string } }) => setF({ ...f, [k]: e.currentTarget.value });
  const problemOf = (k: keyof QueryFields): string | undefined => (!built.ok && built.problem.field === k ? built.problem.message : undefined);

  const run = async (): Promise<void> => {
    if (ns === undefined || !built.ok) return;
    setBusy(true);
    setFailure(undefined);
    const started = performance.now();
    try {
      const atIso = at === '' ? undefined : new Date(Date.parse(`${at}Z`)).toISOString();
      const query = built.aggregate !== undefined ? { ...built.query, aggregate: built.aggregate } : built.query;
      const result = await client.query(ns, query, atIso !== undefined ? { at: atIso } : {});
      setRan({ result, ms: performance.now() - started, ...(atIso !== undefined ? { at: atIso } : {}) });
    } catch (e) {
      setRan(undefined);
      setFailure(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const filterProblem = !built.ok && built.problem.field === 'filter' ? built.problem : undefined;
  return (
    <section>
      <h1>Query</h1>
      <form
        class="query"
        onSubmit={(e) => {
          e.preventDefault();
          void run();
        }}
      >
        <div class="grid">
          <label for="q-ns">Namespace</label>
          <select id="q-ns" value={ns ?? ''} onChange={(e) => go({ page: 'query', ns: e.currentTarget.value })} required>
            <option value="" disabled>
              Choose…
            </option>
            {(names.data ?? []).map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
          <label for="q-filter">Filter</label>
          <div>
            <textarea
              id="q-filter"
              rows={2}
              value={f.filter}
              placeholder='age > 30 and city = "Oslo"'
              spellcheck={false}
              aria-invalid={filterProblem !== undefined}
              aria-describedby="q-filter-check"
              onInput={set('filter')}
              onKeyDown={(e) => {
                if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
                  e.preventDefault();
                  void run();
                }
              }}
            />
            <div id="q-filter-check">
              {filterProblem !== undefined ? (
                <div class="error">
                  {filterProblem.column !== undefined ? (
                    <pre class="caret" aria-hidden="true">
                      {`${f.filter.split('\n').join(' ')}\n${' '.repeat(Math.max(0, filterProblem.column - 1))}^`}
                    </pre>
                  ) : null}
                  <p>{filterProblem.message}</p>
                </div>
              ) : (
                <p class="muted">Filter language: <code>age &gt; 30</code>, <code>name ~ "^A"</code>, <code>tags contains "x"</code>, <code>email exists</code>, with and, or, not. Ctrl+Enter runs.</p>
              )}
            </div>
          </div>
          <label for="q-op">Aggregate</label>
          <div class="row">
            <select
              id="q-op"
              value={f.op}
              onChange={(e) => {
                const op = e.currentTarget.value as QueryFields['op'];
                // Listing documents hides "of field" and "group by": what they held must not
                // block the run (a group by without an aggregation is refused).
                setF(op === '' ? { ...f, op, field: '', groupBy: '' } : { ...f, op });
              }}
            >
              <option value="">none: list documents</option>
              {(['count', 'sum', 'avg', 'min', 'max', 'distinct'] as const).map((op) => (
                <option key={op} value={op}>
                  {op}
                </option>
              ))}
            </select>
            {f.op !== '' ? (
              <>
                <label for="q-field">of field</label>
                <input id="q-field" value={f.field} onInput={set('field')} placeholder={f.op === 'count' ? '(every document)' : 'age'} aria-invalid={problemOf('field') !== undefined} />
                <label for="q-group">group by</label>
                <input id="q-group" value={f.groupBy} onInput={set('groupBy')} placeholder="(none)" />
              </>
            ) : null}
          </div>
          {f.op === '' ? (
            <>
              <label for="q-sort">Sort</label>
              <input id="q-sort" value={f.sort} onInput={set('sort')} placeholder="name, age:desc" aria-invalid={problemOf('sort') !== undefined} />
              <label for="q-select">Fields</label>
              <input id="q-select" value={f.select} onInput={set('select')} placeholder="(all) or name, address.city" />
              <label for="q-limit">Limit</label>
              <div class="row">
                <input id="q-limit" value={f.limit} onInput={set('limit')} inputMode="numeric" size={6} aria-invalid={problemOf('limit') !== undefined} />
                <label for="q-offset">Offset</label>
                <input id="q-offset" value={f.offset} onInput={set('offset')} inputMode="numeric" size={6} placeholder="0" aria-invalid={problemOf('offset') !== undefined} />
              </div>
            </>
          ) : null}
          <label for="q-at">As of (UTC)</label>
          <div class="row">
            <input id="q-at" type="datetime-local" step="0.001" value={at} onChange={(e) => setAt(e.currentTarget.value)} />
            <button type="button" class="small" disabled={at === ''} onClick={() => setAt('')}>
              Now
            </button>
          </div>
        </div>
        {!built.ok && built.problem.field !== 'filter' ? (
          <p class="error" role="alert">
            {built.problem.message}
          </p>
        ) : null}
        <div class="toolbar">
          <button type="submit" disabled={busy || ns === undefined || !built.ok}>
            Run
          </button>
        </div>
      </form>
      {failure !== undefined ? (
        <p class="error" role="alert">
          {failure}
        </p>
      ) : null}
      {ran !== undefined && ns !== undefined ? (
        <div>
          <h2>Results</h2>
          <p role="status" class="explain">
            {ran.result.aggregate !== undefined ? `${plural(ran.result.total, 'document')} matched` : `${ran.result.rows.length.toLocaleString('en')} of ${plural(ran.result.total, 'matching document')}`}
            {ran.at !== undefined ? `, as of ${formatTime(ran.at)} UTC` : ''} · {ran.result.explain.strategy === 'index' ? `index on ${ran.result.explain.indexes.join(', ')}` : 'full scan'} · {ran.result.explain.examined.toLocaleString('en')} examined · {ran.ms.toFixed(0)} ms
          </p>
          {ran.result.aggregate !== undefined ? <JsonTree value={ran.result.aggregate} label="Aggregate" /> : <Results ns={ns} rows={ran.result.rows} label="Query results" />}
          {built.ok ? <SaveView client={client} ns={ns} query={built.query} aggregate={built.aggregate} /> : null}
        </div>
      ) : null}
    </section>
  );
}

function SaveView({ client, ns, query, aggregate }: { readonly client: KoruClient; readonly ns: string; readonly query: { readonly [k: string]: unknown }; readonly aggregate: { readonly [k: string]: unknown } | undefined }) {
  const [name, setName] = useState('');
  const [auto, setAuto] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | undefined>();
  return (
    <details class="panel">
      <summary>Save as a view</summary>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            // The query as it ran: filter, sort, projection and page, or the aggregation.
            await client.createView({ name, namespace: ns, query, ...(aggregate !== undefined ? { aggregate: aggregate as never } : {}), autoRefresh: auto });
            setOutcome({ ok: true, text: `Saved as view “${name}”.` });
          } catch (err) {
            setOutcome({ ok: false, text: errorText(err) });
          }
        }}
      >
        <label for="view-name">View name</label>
        <input id="view-name" value={name} onInput={(e) => setName(e.currentTarget.value)} required pattern="[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}" />
        <label class="inline">
          <input type="checkbox" checked={auto} onChange={(e) => setAuto(e.currentTarget.checked)} /> Keep it current on every write
        </label>
        <button type="submit">Save view</button>
        <OutcomeNote outcome={outcome} extra={<a href={hrefOf({ page: 'views' })}>Open views</a>} />
      </form>
    </details>
  );
}
