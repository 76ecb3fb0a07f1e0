/**
 * The change feed as it happens. Pausing ends the subscription and remembers the last
 * change shown; resuming subscribes again from there (`since`), so a pause loses nothing,
 * whatever was written meanwhile. The same holds when the page falls behind (`lagged`):
 * it resumes from its last change on its own, and when the namespace, the filter or the
 * change types change: the feed goes on after the last change shown, with the new ones. The filter is
 * the query editor's language, run by the server on each change's new value.
 */
import type { ChangeEvent, ChangeType, JsonValue, KoruClient, Subscription } from '@koru/client';
import { useEffect, useRef, useState } from 'preact/hooks';
import { parseFilterText } from '../query-form.js';
import { hrefOf } from '../route.js';
import { ErrorNote, formatTime, plural, shortId } from '../ui.js';

const TYPES: readonly ChangeType[] = ['insert', 'update', 'delete'];
const TYPE_NAMES = { insert: 'Inserts', update: 'Updates', delete: 'Deletes' } as const;

/** What a feed watches, in words: `every namespace, where n > 1, deletes only`. */
function describeFeed(namespace: string, applied: Applied | undefined, types: readonly ChangeType[]): string {
  const parts = [namespace === '' ? 'every namespace' : namespace];
  if (applied !== undefined) parts.push(`where ${applied.text}`);
  if (types.length < TYPES.length) parts.push(`${types.map((t) => TYPE_NAMES[t].toLowerCase()).join(' and ')} only`);
  return parts.join(', ');
}

/** The feed's filter as applied: its text (to show) and its wire form. */
interface Applied {
  readonly text: string;
  readonly filter: JsonValue;
}

/** Changes kept on screen (the newest). */
export const LIVE_ROWS = 500;

/** A short, one-line form of a value for the table. */
function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? 'null';
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}

export function Live({ client }: { readonly client: KoruClient }) {
  const [rows, setRows] = useState<readonly ChangeEvent[]>([]);
  const [paused, setPaused] = useState(false);
  const [namespace, setNamespace] = useState('');
  const [typedSince, setTypedSince] = useState('');
  // Where the running subscription started: undefined is "from now".
  const [since, setSince] = useState<number | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  // What the running subscription watches and the change it started after, once it runs:
  // said only then, so the page never claims a filter that is not yet applied.
  const [running, setRunning] = useState<{ readonly what: string; readonly after: number } | undefined>();
  const [error, setError] = useState<unknown>();
  const [typedFilter, setTypedFilter] = useState('');
  const [applied, setApplied] = useState<Applied | undefined>();
  const [types, setTypes] = useState<readonly ChangeType[]>(TYPES);
  const lastSeq = useRef<number | undefined>(undefined);
  const parsedFilter = parseFilterText(typedFilter);
  // Compared by value: a new but equal filter does not restart the feed.
  const filterKey = applied === undefined ? '' : JSON.stringify(applied.filter);
  const typesKey = types.join(',');

  useEffect(() => {
    if (paused) return;
    setError(undefined);
    setRunning(undefined);
    let sub: Subscription | undefined;
    let ended = false;
    const start = (from: number | undefined): void => {
      const spec = {
        ...(namespace !== '' ? { namespace } : {}),
        ...(applied !== undefined ? { filter: applied.filter } : {}),
        ...(types.length < TYPES.length ? { types } : {}),
        ...(from !== undefined ? { since: from } : {}),
      };
      sub = client.subscribe(spec, (e) => {
        if (e.type === 'change') {
          lastSeq.current = e.seq;
          setRows((r) => [e, ...r].slice(0, LIVE_ROWS));
        } else if (e.type === 'lagged') {
          // Fell behind: resume right after the last change shown.
          setNotice(`Fell ${plural(e.behind, 'change')} behind; caught up from change ${e.seq}.`);
          queueMicrotask(() => !ended && start(e.seq));
        } else {
          setNotice(`Changes from ${e.seq} were pruned by retention; the feed goes on after change ${e.resyncFrom}.`);
        }
      });
      sub.done.catch((e: unknown) => !ended && setError(e));
    };
    // "From now" is from the server's current change, named, so that a pause or a lag
    // always has a change number to resume after.
    const begin = async (): Promise<void> => {
      const from = since ?? (await client.currentSeq());
      if (ended) return;
      lastSeq.current = from;
      start(from);
      setRunning({ what: describeFeed(namespace, applied, types), after: from });
    };
    begin().catch((e: unknown) => !ended && setError(e));
    return () => {
      ended = true;
      sub?.unsubscribe();
    };
  }, [client, paused, namespace, since, filterKey, typesKey]);

  const resume = (): void => {
    setSince(lastSeq.current);
    setPaused(false);
  };

  // A new namespace, filter or types: the feed goes on after the last change shown (not
  // from where it started, which would show changes twice and out of order).
  const changeNamespace = (ns: string): void => {
    if (ns === namespace) return;
    setSince(lastSeq.current);
    setNamespace(ns);
  };
  const applyFilter = (): void => {
    if (!parsedFilter.ok) return;
    const next = parsedFilter.filter === undefined ? undefined : { text: typedFilter.trim(), filter: parsedFilter.filter };
    if (JSON.stringify(next?.filter) === JSON.stringify(applied?.filter)) return;
    setSince(lastSeq.current);
    setApplied(next);
  };
  const toggleType = (t: ChangeType, on: boolean): void => {
    setSince(lastSeq.current);
    setTypes(TYPES.filter((x) => (x === t ? on : types.includes(x))));
  };

  return (
    <section>
      <h1>Live changes</h1>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          if (!parsedFilter.ok) return;
          const n = typedSince.trim() === '' ? undefined : Number(typedSince);
          if (n !== undefined && (!Number.isInteger(n) || n < 0)) {
            setNotice('A change number is a whole number, 0 or more.');
            return;
          }
          setRows([]);
          lastSeq.current = n;
          setSince(n);
          setApplied(parsedFilter.filter === undefined ? undefined : { text: typedFilter.trim(), filter: parsedFilter.filter });
          setPaused(false);
        }}
      >
        <label for="live-ns">Namespace</label>
        <input id="live-ns" value={namespace} placeholder="all" onChange={(e) => changeNamespace(e.currentTarget.value.trim())} autocomplete="off" spellcheck={false} />
        <label for="live-filter">Filter</label>
        <input
          id="live-filter"
          value={typedFilter}
          placeholder='n > 1 and kind = "tea"'
          onInput={(e) => setTypedFilter(e.currentTarget.value)}
          onChange={applyFilter}
          onKeyDown={(e) => {
            // Enter applies the filter to the running feed (Start would begin it again).
            if (e.key === 'Enter') {
              e.preventDefault();
              applyFilter();
            }
          }}
          autocomplete="off"
          spellcheck={false}
          aria-invalid={!parsedFilter.ok}
          aria-describedby="live-filter-check"
        />
        <label for="live-since">Replay after change</label>
        <input id="live-since" inputMode="numeric" value={typedSince} placeholder="now" size={8} onInput={(e) => setTypedSince(e.currentTarget.value)} />
        <fieldset class="toggle">
          <legend class="visually-hidden">Change types</legend>
          {TYPES.map((t) => (
            <label key={t}>
              {/* The last type left cannot be unticked: a feed of nothing is no feed. */}
              <input type="checkbox" checked={types.includes(t)} disabled={types.length === 1 && types.includes(t)} onChange={(e) => toggleType(t, e.currentTarget.checked)} /> {TYPE_NAMES[t]}
            </label>
          ))}
        </fieldset>
        <button type="submit">Start</button>
        <button type="button" onClick={() => (paused ? resume() : setPaused(true))} aria-pressed={paused}>
          {paused ? 'Resume' : 'Pause'}
        </button>
      </form>
      <p id="live-filter-check" class={parsedFilter.ok ? 'muted' : 'error'}>
        {parsedFilter.ok ? 'Filter: the query language, on each new value (deletes match no filter). Enter applies it.' : parsedFilter.problem.message}
      </p>
      <p role="status" class="muted">
        {paused
          ? `Paused after change ${lastSeq.current ?? 0}: resuming replays everything since.`
          : running === undefined
            ? 'Starting…'
            : `Watching ${running.what}, after change ${running.after}.`}
        {notice !== undefined ? ` ${notice}` : ''}
      </p>
      {error !== undefined ? <ErrorNote error={error} /> : null}
      <table class="list feed">
        <caption class="visually-hidden">Changes, newest first</caption>
        <thead>
          <tr>
            <th scope="col" class="num">
              Change
            </th>
            <th scope="col">Time (UTC)</th>
            <th scope="col">Type</th>
            <th scope="col">Key</th>
            <th scope="col">Version</th>
            <th scope="col">Value</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((e) => (
            <tr key={e.seq}>
              <td class="num">{e.seq}</td>
              <td>{formatTime(e.timestamp)}</td>
              <td>{e.changeType}</td>
              <td>
                <a href={hrefOf({ page: 'key', ns: e.namespace, key: e.key, tab: 'history' })}>
                  {e.namespace}/{e.key}
                </a>
              </td>
              <td>
                <code title={e.versionId}>{shortId(e.versionId)}</code>
              </td>
              <td>
                <code>{e.changeType === 'delete' ? '—' : preview(e.value)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
