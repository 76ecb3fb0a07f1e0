/**
 * Materialized views (list, read, refresh, delete; they are created from the query
 * editor) and secondary indexes (list, create, drop).
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
            <table class="list" aria-label="Views">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Namespace</th>
                  <th scope="col">Query</th>
                  <th scope="col">Kept current</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {views.data.map((v) => (
                  <tr key={v.name}>
                    <th scope="row">{v.name}</th>
                    <td>
                      <a href={hrefOf({ page: 'keys', ns: v.namespace })}>{v.namespace}</a>
                    </td>
                    <td>
                      <code>{JSON.stringify(v.aggregate !== undefined ? { ...(v.query as object), aggregate: v.aggregate } : v.query)}</code>
                    </td>
                    <td>{v.autoRefresh ? 'on every write' : 'on refresh'}</td>
                    <td class="actions">
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
            <table class="list" aria-label="Indexes">
              <thead>
                <tr>
                  <th scope="col">Namespace</th>
                  <th scope="col">Field</th>
                  <th scope="col">Created (UTC)</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {indexes.data.map((i) => (
                  <tr key={`${i.namespace}\u0000${i.field}`}>
                    <td>{i.namespace}</td>
                    <th scope="row">{i.field}</th>
                    <td>{formatTime(i.createdAt)}</td>
                    <td>
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
