/**
 * A key's value now, or as it was at a moment: the slider steps through the moments its
 * versions were written, the time field takes any moment; both read the server's `getAt`
 * (the version current at that time), so what is shown is the database's answer, not a
 * guess from the list.
 */
import type { KoruClient } from '@koru/client';
import { useState } from 'preact/hooks';
import { JsonTree } from '../json-tree.js';
import { CopyButton, ErrorNote, formatTime, shortId, useLoad } from '../ui.js';
import type { History } from './key-page.js';

/** `datetime-local` text (UTC, to the millisecond) of an ISO time, and back. */
const toLocalInput = (iso: string): string => iso.replace(/Z$/, '');
const fromLocalInput = (text: string): string | undefined => {
  const ms = Date.parse(`${text}Z`);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
};

export function KeyValue({ client, ns, keyName, history }: { readonly client: KoruClient; readonly ns: string; readonly keyName: string; readonly history: History }) {
  // undefined: now (the current version); else the ISO moment to read at.
  const [at, setAt] = useState<string | undefined>();
  const last = history.length - 1;
  // A deleted key has no current version: its newest version, the tombstone, is shown.
  const version = useLoad(
    () => (at !== undefined ? client.getAt(ns, keyName, at) : history[last]!.deleted ? Promise.resolve(history[last]!) : client.getVersion(ns, keyName)),
    [client, ns, keyName, at, history],
  );
  const step = at === undefined ? last : stepAt(history, at);
  const v = version.data;
  return (
    <div>
      <fieldset class="travel">
        <legend>Time travel</legend>
        <label for="travel-step">Version</label>
        <input
          id="travel-step"
          type="range"
          min={0}
          max={last}
          value={step}
          aria-valuetext={history[step] !== undefined ? `version ${step + 1} of ${history.length}, ${formatTime(history[step]!.timestamp)}` : undefined}
          onInput={(e) => {
            const i = Number(e.currentTarget.value);
            setAt(i === last ? undefined : history[i]!.timestamp);
          }}
        />
        <label for="travel-time">As of (UTC)</label>
        <input
          id="travel-time"
          type="datetime-local"
          step="0.001"
          value={toLocalInput(at ?? history[last]!.timestamp)}
          onChange={(e) => {
            const iso = fromLocalInput(e.currentTarget.value);
            if (iso !== undefined) setAt(iso);
          }}
        />
        <button type="button" class="small" disabled={at === undefined} onClick={() => setAt(undefined)}>
          Now
        </button>
      </fieldset>
      <p class="muted" aria-live="polite">
        {at === undefined ? 'Current version' : `As of ${formatTime(at)} UTC`}
      </p>
      {version.error !== undefined ? <ErrorNote error={version.error} /> : null}
      {v !== undefined ? (
        <>
          <dl class="meta">
            <dt>Version</dt>
            <dd>
              <code title={v.versionId}>{shortId(v.versionId)}</code> <CopyButton text={v.versionId} label="Copy version id" />
            </dd>
            <dt>Written</dt>
            <dd>{formatTime(v.timestamp)} UTC</dd>
            <dt>Node</dt>
            <dd>
              <code>{v.node}</code>
            </dd>
          </dl>
          {v.deleted ? <p>Deleted at this time (a tombstone).</p> : <JsonTree value={v.value} label="Value" />}
        </>
      ) : null}
    </div>
  );
}

/** The index of the last version written at or before `iso` (0 if none). */
function stepAt(history: History, iso: string): number {
  let i = 0;
  for (let j = 0; j < history.length; j++) if (history[j]!.timestamp <= iso) i = j;
  return i;
}
