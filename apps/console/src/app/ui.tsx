/** Small pieces every page uses: loading and error states, copy buttons, time and id formats. */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { isKoruError } from '@koru/client';

/** The first 12 hex digits of an id (as Git shows commits); the full id is in its title. */
export function shortId(id: string | null): string {
  return id === null ? '—' : id.slice(0, 12);
}

/** `1 key`, `2 keys`, `1,234 keys`: a count and its noun, singular for one. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en')} ${n === 1 ? one : many}`;
}

/** `2026-12-06 23:41:07.123` from an ISO time, in UTC (the HLC's clock), so every viewer agrees. */
export function formatTime(iso: string): string {
  return iso.replace('T', ' ').replace(/Z$/, '');
}

/** The one line a failed call shows: its code and message. */
export function errorText(e: unknown): string {
  if (isKoruError(e)) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

/** An error, announced to screen readers. */
export function ErrorNote({ error }: { readonly error: unknown }) {
  return (
    <p class="error" role="alert">
      {errorText(error)}
    </p>
  );
}

/** A region that says it is busy while `loading`. */
export function Busy({ loading, children }: { readonly loading: boolean; readonly children?: ComponentChildren }) {
  return (
    <div aria-busy={loading} aria-live="polite">
      {loading ? <p class="muted">Loading…</p> : children}
    </div>
  );
}

/** A value loaded by `load`, again whenever `deps` change; stale answers are dropped. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): { data?: T; error?: unknown; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [nonce, setNonce] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => mine === seq.current && setState({ data, loading: false }),
      (error: unknown) => mine === seq.current && setState({ error, loading: false }),
    );
  }, [...deps, nonce]);
  const reload = useCallback(() => setNonce((n) => n + 1), []);
  return { ...state, reload };
}

/**
 * Copies `text` to the clipboard and says so for a moment. `text` may be a function, so
 * that a big value is turned into text only when it is copied, not on every render.
 */
export function CopyButton({ text, label }: { readonly text: string | (() => string); readonly label: string }) {
  const [done, setDone] = useState<'copied' | 'failed' | undefined>();
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(typeof text === 'string' ? text : text());
      setDone('copied');
    } catch {
      setDone('failed');
    }
    setTimeout(() => setDone(undefined), 1500);
  };
  return (
    <button type="button" class="small" onClick={copy} aria-label={label}>
      {done === 'copied' ? 'Copied' : done === 'failed' ? 'Copy failed' : 'Copy'}
    </button>
  );
}

/** What an action ended with: a success (announced politely) or a failure (an alert). */
export interface Outcome {
  readonly ok: boolean;
  readonly text: string;
}

/** Shows `outcome`, if any, with `extra` after a success. */
export function OutcomeNote({ outcome, extra }: { readonly outcome: Outcome | undefined; readonly extra?: ComponentChildren }) {
  if (outcome === undefined) return null;
  return (
    <p class={outcome.ok ? 'ok' : 'error'} role={outcome.ok ? 'status' : 'alert'}>
      {outcome.text}
      {outcome.ok && extra !== undefined ? <> {extra}</> : null}
    </p>
  );
}
