/**
 * Materialized views (list, read, refresh, delete; they are created from the query
 * editor) and secondary indexes (list, create, drop). Their tables are `stack` tables: a
 * list of blocks on a phone (styles.css), so their roles are explicit, which a browser
 * would otherwise drop with the table layout.
 */
import type { KoruClient, ViewInfo, ViewResult } from '@koru/client';
import { useState } from 'preact/hooks';
import { JsonTree } from '../json-tree.js';
import { Results } from '../results.js';
import { hrefOf } from '../route.js';
import { Busy, ErrorNote, errorText, formatTime, OutcomeNote, plural, useLoad, type Outcome } from '../ui.js';

export function Views({ client }: { readonly client: KoruClient }) {
  return (
    <section>
      <h1>Views &amp; indexes</h1>
      <ViewList client={client} />
      <IndexList client={client} />
    </section>
  );
}

function ViewList({ client }: { readonly client: KoruClient }) {
  const views = useLoad(() => client.listViews(), [client]);
  const [open, setOpen] = useState<{ readonly name: string; readonly result?: ViewResult; readonly error?: string } | undefined>();
  const [note, setNote] = useState<string | undefined>();
  const act = async (v: ViewInfo, what: 'query' | 'refresh' | 'delete'): Promise<void> => {
    setNote(undefined);
    try {
      if (what === 'delete') {
        if (!confirm(`Delete the view ${v.name}? Its documents stay; only the view goes.`)) return;
        await client.deleteView(v.name);
        if (open?.name === v.name) setOpen(undefined);
        setNote(`Deleted view ${v.name}.`);
        views.reload();
        return;
      }
      const result = what === 'refresh' ? await client.refreshView(v.name) : await client.queryView(v.name);
      setOpen({ name: v.name, result });
      if (what === 'refresh') setNote(`Refreshed ${v.name}.`);
    } catch (e) {
      setOpen({ name: v.name, error: errorText(e) });
    }
  };
  const shown = views.data?.find((v) => v.name === open?.name);
  return (
    <div>
      <h2>Views</h2>
      <p class="muted">
        A view is a saved query whose results are kept. Save one from the <a href={hrefOf({ page: 'query' })}>query editor</a>.
      </p>
      {views.error !== undefined ? <ErrorNote error={views.error} /> : null}
      {note !== undefined ? (
        <p role="status" class="ok">
          {note}
        </p>
      ) : null}
      <Busy loading={views.loading && views.data === undefined}>
        {views.data !== undefined && views.data.length === 0 ? <p>No views yet.</p> : null}
        {views.data !== undefined && views.data.length > 0 ? (
          <div class="scroll">
            <table class="list stack" role="table" aria-label="Views">
              <thead role="rowgroup">
                <tr role="row">
                  <th role="columnheader" scope="col">Name</th>
                  <th role="columnheader" scope="col">Namespace</th>
                  <th role="columnheader" scope="col">Query</th>
                  <th role="columnheader" scope="col">Kept current</th>
                  <th role="columnheader" scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody role="rowgroup">
                {views.data.map((v) => (
                  <tr key={v.name} role="row">
                    <th role="rowheader" scope="row">{v.name}</th>
                    <td role="cell" data-label="Namespace">
                      <a href={hrefOf({ page: 'keys', ns: v.namespace })}>{v.namespace}</a>
                    </td>
                    <td role="cell" data-label="Query">
                      <code>{JSON.stringify(v.aggregate !== undefined ? { ...(v.query as object), aggregate: v.aggregate } : v.query)}</code>
                    </td>
                    <td role="cell" data-label="Kept current">{v.autoRefresh ? 'on every write' : 'on refresh'}</td>
                    <td class="actions" role="cell">
                      <button type="button" class="small" onClick={() => void act(v, 'query')} aria-label={`Show ${v.name}`}>
                        Show
                      </button>
                      <button type="button" class="small" onClick={() => void act(v, 'refresh')} aria-label={`Refresh ${v.name}`}>
                        Refresh
                      </button>
                      <button type="button" class="small danger" onClick={() => void act(v, 'delete')} aria-label={`Delete ${v.name}`}>
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </Busy>
      {open !== undefined ? (
        <div class="panel">
          <h3>{open.name}</h3>
          {open.error !== undefined ? (
            <p class="error" role="alert">
              {open.error}
            </p>
          ) : null}
          {open.result !== undefined ? (
            <>
              <p class="muted" role="status">
                {plural(open.result.total, 'matching document')}, up to date as of change {open.result.seq} ({formatTime(open.result.refreshedAt)} UTC)
              </p>
              {open.result.aggregate !== undefined ? <JsonTree value={open.result.aggregate} label={`View ${open.name}`} /> : <Results ns={shown?.namespace ?? ''} rows={open.result.rows} label={`View ${open.name}`} />}
            </>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

function IndexList({ client }: { readonly client: KoruClient }) {
  const indexes = useLoad(() => client.listIndexes(), [client]);
  const [ns, setNs] = useState('');
  const [field, setField] = useState('');
  const [outcome, setOutcome] = useState<Outcome | undefined>();
  const run = async (what: () => Promise<unknown>, ok: string): Promise<void> => {
    setOutcome(undefined);
    try {
      await what();
      setOutcome({ ok: true, text: ok });
      indexes.reload();
    } catch (e) {
      setOutcome({ ok: false, text: errorText(e) });
    }
  };
  return (
    <div>
      <h2>Indexes</h2>
      <p class="muted">A secondary index on a field lets queries that filter on it read only the matching documents.</p>
      {indexes.error !== undefined ? <ErrorNote error={indexes.error} /> : null}
      <OutcomeNote outcome={outcome} />
      <Busy loading={indexes.loading && indexes.data === undefined}>
        {indexes.data !== undefined && indexes.data.length === 0 ? <p>No indexes yet.</p> : null}
        {indexes.data !== undefined && indexes.data.length > 0 ? (
          <div class="scroll">
            <table class="list stack" role="table" aria-label="Indexes">
              <thead role="rowgroup">
                <tr role="row">
                  <th role="columnheader" scope="col">Namespace</th>
                  <th role="columnheader" scope="col">Field</th>
                  <th role="columnheader" scope="col">Created (UTC)</th>
                  <th role="columnheader" scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody role="rowgroup">
                {indexes.data.map((i) => (
                  <tr key={`${i.namespace}\u0000${i.field}`} role="row">
                    <td role="cell" data-label="Namespace">{i.namespace}</td>
                    <th role="rowheader" scope="row" data-label="Field">{i.field}</th>
                    <td role="cell" data-label="Created (UTC)">{formatTime(i.createdAt)}</td>
                    <td role="cell">
                      <button
                        type="button"
                        class="small danger"
                        aria-label={`Drop the index on ${i.namespace} ${i.field}`}
                        onClick={() => {
                          if (confirm(`Drop the index on ${i.namespace}.${i.field}? Queries still work, by scanning.`)) void run(() => client.dropIndex(i.namespace, i.field), `Dropped the index on ${i.namespace} ${i.field}.`);
                        }}
                      >
                        Drop
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </Busy>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          void run(() => client.createIndex(ns.trim(), field.trim()), `Indexed ${field.trim()} of ${ns.trim()}.`);
        }}
      >
        <label for="ix-ns">Namespace</label>
        <input id="ix-ns" value={ns} onInput={(e) => setNs(e.currentTarget.value)} required autocomplete="off" />
        <label for="ix-field">Field</label>
        <input id="ix-field" value={field} onInput={(e) => setField(e.currentTarget.value)} required placeholder="email or address.city" autocomplete="off" />
        <button type="submit">Create index</button>
      </form>
    </div>
  );
}
