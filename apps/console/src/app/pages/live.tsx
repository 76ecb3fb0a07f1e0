/**
 * The change feed as it happens. Pausing ends the subscription and remembers the last
 * change shown; resuming subscribes again from there (`since`), so a pause loses nothing,
 * whatever was written meanwhile. The same holds when the page falls behind (`lagged`):
 * it resumes from its last change on its own.
 */
import type { ChangeEvent, KoruClient, Subscription } from '@koru/client';
import { useEffect, useRef, useState } from 'preact/hooks';
import { hrefOf } from '../route.js';
import { ErrorNote, formatTime, shortId } from '../ui.js';

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
  // The change the running subscription started after, once it runs.
  const [startedAfter, setStartedAfter] = useState<number | undefined>();
  const [error, setError] = useState<unknown>();
  const lastSeq = useRef<number | undefined>(undefined);

  useEffect(() => {
    if (paused) return;
    setError(undefined);
    setStartedAfter(undefined);
    let sub: Subscription | undefined;
    let ended = false;
    const start = (from: number | undefined): void => {
      sub = client.subscribe({ ...(namespace !== '' ? { namespace } : {}), ...(from !== undefined ? { since: from } : {}) }, (e) => {
        if (e.type === 'change') {
          lastSeq.current = e.seq;
          setRows((r) => [e, ...r].slice(0, LIVE_ROWS));
        } else if (e.type === 'lagged') {
          // Fell behind: resume right after the last change shown.
          setNotice(`Fell ${e.behind} changes behind; caught up from change ${e.seq}.`);
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
      setStartedAfter(from);
    };
    begin().catch((e: unknown) => !ended && setError(e));
    return () => {
      ended = true;
      sub?.unsubscribe();
    };
  }, [client, paused, namespace, since]);

  const resume = (): void => {
    setSince(lastSeq.current);
    setPaused(false);
  };

  return (
    <section>
      <h1>Live changes</h1>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          const n = typedSince.trim() === '' ? undefined : Number(typedSince);
          if (n !== undefined && (!Number.isInteger(n) || n < 0)) {
            setNotice('A change number is a whole number, 0 or more.');
            return;
          }
          setRows([]);
          lastSeq.current = n;
          setSince(n);
          setPaused(false);
        }}
      >
        <label for="live-ns">Namespace</label>
        <input id="live-ns" value={namespace} placeholder="all" onChange={(e) => setNamespace(e.currentTarget.value.trim())} autocomplete="off" spellcheck={false} />
        <label for="live-since">Replay after change</label>
        <input id="live-since" inputMode="numeric" value={typedSince} placeholder="now" size={8} onInput={(e) => setTypedSince(e.currentTarget.value)} />
        <button type="submit">Start</button>
        <button type="button" onClick={() => (paused ? resume() : setPaused(true))} aria-pressed={paused}>
          {paused ? 'Resume' : 'Pause'}
        </button>
      </form>
      <p role="status" class="muted">
        {paused
          ? `Paused after change ${lastSeq.current ?? 0}: resuming replays everything since.`
          : startedAfter === undefined
            ? 'Starting…'
            : `Watching ${namespace === '' ? 'every namespace' : namespace}, after change ${startedAfter}.`}
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
