/**
 * Writes a key's next version, or deletes it, as compare-and-set against the version the
 * editor was opened on: if anyone wrote the key since, the server refuses (VERSION_CONFLICT)
 * and nothing is overwritten.
 */
import type { KoruClient } from '@koru/client';
import { ErrorCodes, isKoruError } from '@koru/client';
import { useState } from 'preact/hooks';
import { parseJson } from '../json-input.js';
import { go } from '../route.js';
import { errorText, OutcomeNote, shortId, type Outcome } from '../ui.js';
import type { History } from './key-page.js';

export function KeyEdit({ client, ns, keyName, history, onSaved }: { readonly client: KoruClient; readonly ns: string; readonly keyName: string; readonly history: History; readonly onSaved: () => void }) {
  const latest = history[history.length - 1]!;
  // The version the editor was opened on: pinned, so that a newer version arriving live
  // never moves the compare-and-set's base under the person typing.
  const [base, setBase] = useState<History[number]>(latest);
  const [text, setText] = useState(() => textOf(latest));
  const [outcome, setOutcome] = useState<Outcome | undefined>();
  const [busy, setBusy] = useState(false);
  const parsed = parseJson(text);
  const stale = latest.versionId !== base.versionId;

  const takeNewest = (): void => {
    setBase(latest);
    setText(textOf(latest));
    setOutcome(undefined);
  };

  const write = async (what: 'save' | 'delete'): Promise<void> => {
    setBusy(true);
    setOutcome(undefined);
    try {
      const v =
        what === 'save'
          ? await client.put(ns, keyName, parsed.ok ? parsed.value : null, { ifVersion: base.versionId })
          : await client.delete(ns, keyName, { ifVersion: base.versionId });
      setBase(v);
      setOutcome({ ok: true, text: what === 'save' ? `Saved as version ${shortId(v.versionId)}.` : `Deleted (tombstone ${shortId(v.versionId)}).` });
      onSaved();
      if (what === 'delete') go({ page: 'key', ns, key: keyName, tab: 'history' });
    } catch (e) {
      setOutcome({
        ok: false,
        text: isKoruError(e, ErrorCodes.VERSION_CONFLICT) ? `${what === 'save' ? 'Not saved' : 'Not deleted'}: the key changed since this editor opened it (the Diff tab shows what changed).` : errorText(e),
      });
      onSaved();
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      class="edit"
      onSubmit={(e) => {
        e.preventDefault();
        if (parsed.ok) void write('save');
      }}
    >
      <p class="muted">
        Editing version <code title={base.versionId}>{shortId(base.versionId)}</code>
        {base.deleted ? ' (deleted: saving writes it again)' : ''}. Saving is refused if the key changes meanwhile.
      </p>
      {stale ? (
        <p class="error" role="alert">
          The key has a newer version (<code title={latest.versionId}>{shortId(latest.versionId)}</code>) than the one this editor opened.{' '}
          <button type="button" class="small" onClick={takeNewest}>
            Edit the newest version
          </button>
        </p>
      ) : null}
      <label for="edit-value">Value (JSON)</label>
      <textarea id="edit-value" rows={16} value={text} onInput={(e) => setText(e.currentTarget.value)} spellcheck={false} aria-invalid={!parsed.ok} aria-describedby="edit-check" />
      <p id="edit-check" class={parsed.ok ? 'muted' : 'error'}>
        {parsed.ok ? 'Valid JSON.' : parsed.message}
      </p>
      <OutcomeNote outcome={outcome} />
      <div class="toolbar">
        <button type="submit" disabled={busy || !parsed.ok}>
          Save
        </button>
        <button
          type="button"
          class="danger"
          disabled={busy || base.deleted}
          onClick={() => {
            if (confirm(`Delete ${ns}/${keyName}? Its history stays readable.`)) void write('delete');
          }}
        >
          Delete
        </button>
      </div>
    </form>
  );
}

/** The editor's text for a version: its value, indented; an empty object for a tombstone. */
function textOf(v: History[number]): string {
  return v.deleted ? '{\n  \n}' : JSON.stringify(v.value, null, 2);
}
