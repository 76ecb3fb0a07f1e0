/**
 * One key: its value (now or at any time), its history as a hash chain, a diff of any two
 * versions, and an editor. The history is read once for every tab and read again after
 * an edit.
 */
import type { KoruClient, VersionOf } from '@koru/client';
import type { JsonValue } from '@koru/client';
import { useEffect, useState } from 'preact/hooks';
import { hrefOf, KEY_TABS, type Route } from '../route.js';
import { Busy, ErrorNote, useLoad } from '../ui.js';
import { KeyValue } from './key-value.js';
import { KeyHistory } from './key-history.js';
import { KeyDiff } from './key-diff.js';
import { KeyEdit } from './key-edit.js';

/** The newest versions a key's page reads (its history may be longer: then says so). */
export const HISTORY_LIMIT = 1000;

/** A key's versions, oldest first. */
export type History = ReadonlyArray<VersionOf<JsonValue | null>>;

const TAB_NAMES = { value: 'Value', history: 'History', diff: 'Diff', edit: 'Edit' } as const;

export function KeyPage({ client, route }: { readonly client: KoruClient; readonly route: Extract<Route, { page: 'key' }> }) {
  const { ns, key, tab } = route;
  const history = useLoad(() => client.history(ns, key, { limit: HISTORY_LIMIT + 1 }), [client, ns, key]);
  const reload = history.reload;
  const [arrived, setArrived] = useState(0);
  // New versions appear without reloading the page: any change of this key reads its history again.
  useEffect(() => {
    const sub = client.subscribe({ namespace: ns, key }, () => {
      setArrived((n) => n + 1);
      reload();
    });
    sub.done.catch(() => undefined);
    return () => sub.unsubscribe();
  }, [client, ns, key, reload]);
  const versions = history.data;
  const partial = versions !== undefined && versions.length > HISTORY_LIMIT;
  const shown: History | undefined = versions === undefined ? undefined : partial ? versions.slice(1) : versions;
  return (
    <section>
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href={hrefOf({ page: 'namespaces' })}>Namespaces</a> / <a href={hrefOf({ page: 'keys', ns })}>{ns}</a> / <span aria-current="page">{key}</span>
      </nav>
      <h1 class="key-title">{key}</h1>
      <nav aria-label="Key" class="tabs">
        {KEY_TABS.map((t) => (
          <a key={t} href={hrefOf({ page: 'key', ns, key, tab: t })} aria-current={t === tab ? 'page' : undefined}>
            {TAB_NAMES[t]}
          </a>
        ))}
      </nav>
      <p class="visually-hidden" aria-live="polite">
        {arrived > 0 ? `${arrived} new ${arrived === 1 ? 'change' : 'changes'} of this key arrived.` : ''}
      </p>
      {history.error !== undefined ? <ErrorNote error={history.error} /> : null}
      <Busy loading={history.loading && shown === undefined}>
        {shown !== undefined ? (
          <>
            {partial ? <p class="muted">The newest {HISTORY_LIMIT.toLocaleString('en')} versions are shown.</p> : null}
            {tab === 'value' ? <KeyValue client={client} ns={ns} keyName={key} history={shown} /> : null}
            {tab === 'history' ? <KeyHistory ns={ns} keyName={key} history={shown} partial={partial} /> : null}
            {tab === 'diff' ? <KeyDiff client={client} ns={ns} keyName={key} history={shown} from={route.from} to={route.to} /> : null}
            {tab === 'edit' ? <KeyEdit client={client} ns={ns} keyName={key} history={shown} onSaved={history.reload} /> : null}
          </>
        ) : null}
      </Busy>
    </section>
  );
}
