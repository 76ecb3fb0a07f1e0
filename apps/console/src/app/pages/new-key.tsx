/** Writes a new key: refused if the key already exists (compare-and-set against "no version"). */
import type { KoruClient } from '@koru/client';
import { useState } from 'preact/hooks';
import { parseJson } from '../json-input.js';
import { errorText } from '../ui.js';

export function NewKey({ client, ns, onCreated }: { readonly client: KoruClient; readonly ns: string; readonly onCreated: (key: string) => void }) {
  const [key, setKey] = useState('');
  const [text, setText] = useState('{\n  \n}');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const parsed = parseJson(text);
  return (
    <details class="panel">
      <summary>New key</summary>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (!parsed.ok || key === '') return;
          setBusy(true);
          setError(undefined);
          try {
            await client.put(ns, key, parsed.value, { ifVersion: null });
            onCreated(key);
          } catch (err) {
            setError(errorText(err).startsWith('VERSION_CONFLICT') ? `“${key}” already exists: open it to edit it.` : errorText(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <label for="new-key">Key</label>
        <input id="new-key" value={key} onInput={(e) => setKey(e.currentTarget.value)} required autocomplete="off" spellcheck={false} />
        <label for="new-value">Value (JSON)</label>
        <textarea id="new-value" rows={6} value={text} onInput={(e) => setText(e.currentTarget.value)} spellcheck={false} aria-invalid={!parsed.ok} aria-describedby="new-value-check" />
        <p id="new-value-check" class={parsed.ok ? 'muted' : 'error'}>
          {parsed.ok ? 'Valid JSON.' : parsed.message}
        </p>
        {error !== undefined ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy || !parsed.ok || key === ''}>
          Create
        </button>
      </form>
    </details>
  );
}
