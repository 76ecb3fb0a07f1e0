/**
 * The console's shell: signs in (with the token when the server has one), then shows the
 * page the URL fragment names, with a header to move between them.
 */
import type { ConnectionState, KoruClient } from '@koru/client';
import { useEffect, useRef, useState } from 'preact/hooks';
import { hrefOf, useRoute } from './route.js';
import { openSession, savedToken, signOut } from './session.js';
import { SignIn } from './pages/sign-in.js';
import { Namespaces } from './pages/namespaces.js';
import { Keys } from './pages/keys.js';
import { KeyPage } from './pages/key-page.js';
import { Live } from './pages/live.js';
import { QueryPage } from './pages/query.js';
import { Views } from './pages/views.js';
import { Health } from './pages/health.js';

type Stage = { readonly kind: 'connecting' } | { readonly kind: 'sign-in'; readonly refused: boolean } | { readonly kind: 'error'; readonly message: string } | { readonly kind: 'ready'; readonly client: KoruClient };

export function App() {
  const [stage, setStage] = useState<Stage>({ kind: 'connecting' });
  const [link, setLink] = useState<ConnectionState>('open');

  const connect = async (token: string | undefined): Promise<void> => {
    setStage({ kind: 'connecting' });
    const opened = await openSession(token, setLink);
    if ('client' in opened) setStage({ kind: 'ready', client: opened.client });
    else if ('needsToken' in opened) setStage({ kind: 'sign-in', refused: opened.refused });
    else setStage({ kind: 'error', message: opened.error });
  };

  useEffect(() => {
    void connect(savedToken());
  }, []);

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={hrefOf({ page: 'namespaces' })}>
          KoruDelta
        </a>
        {stage.kind === 'ready' ? (
          <>
            <nav aria-label="Console">
              <a href={hrefOf({ page: 'namespaces' })}>Namespaces</a>
              <a href={hrefOf({ page: 'query' })}>Query</a>
              <a href={hrefOf({ page: 'views' })}>Views &amp; indexes</a>
              <a href={hrefOf({ page: 'live' })}>Live</a>
              <a href={hrefOf({ page: 'cluster' })}>Cluster &amp; health</a>
            </nav>
            <span class={`link link-${link}`} role="status">
              {link === 'open' ? 'connected' : link}
            </span>
            <button
              type="button"
              class="small"
              onClick={() => {
                void signOut(stage.client).then(() => setStage({ kind: 'sign-in', refused: false }));
              }}
            >
              Sign out
            </button>
          </>
        ) : null}
      </header>
      <main id="main" tabIndex={-1}>
        {stage.kind === 'connecting' ? <p class="muted">Connecting…</p> : null}
        {stage.kind === 'error' ? (
          <section>
            <h1>Cannot reach the server</h1>
            <p class="error" role="alert">
              {stage.message}
            </p>
            <button type="button" onClick={() => void connect(savedToken())}>
              Try again
            </button>
          </section>
        ) : null}
        {stage.kind === 'sign-in' ? <SignIn refused={stage.refused} onToken={(t) => void connect(t)} /> : null}
        {stage.kind === 'ready' ? <Page client={stage.client} /> : null}
      </main>
    </>
  );
}

function Page({ client }: { readonly client: KoruClient }) {
  const route = useRoute();
  const first = useRef(true);
  useEffect(() => {
    // Moves focus to a page navigated to, so screen readers announce it; the first page
    // keeps the browser's own start (the skip link comes first).
    if (first.current) first.current = false;
    else document.getElementById('main')?.focus({ preventScroll: true });
  }, [route.page]);
  switch (route.page) {
    case 'namespaces':
      return <Namespaces client={client} />;
    case 'live':
      return <Live client={client} />;
    case 'query':
      return <QueryPage client={client} ns={route.ns} />;
    case 'views':
      return <Views client={client} />;
    case 'cluster':
      return <Health client={client} />;
    case 'keys':
      return <Keys client={client} ns={route.ns} />;
    case 'key':
      return <KeyPage client={client} route={route} />;
  }
}
