/**
 * The console's one connection to its server: `@koru/client` over the WebSocket of the
 * page's own origin. The token, when the server has one, is kept in session storage (this
 * tab only, gone when it closes), never in the URL.
 */
import { ErrorCodes, isKoruError, KoruClient, type ConnectionState } from '@koru/client';

const TOKEN_KEY = 'koru.console.token';

/** The token this tab signed in with, if any. */
export function savedToken(): string | undefined {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

function saveToken(token: string | undefined): void {
  try {
    if (token === undefined) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage refused (a private window's policy): the token lives only in this page.
  }
}

/** What a connection attempt ended with. */
export type Opened = { readonly client: KoruClient } | { readonly needsToken: true; readonly refused: boolean } | { readonly error: string };

/**
 * Connects to the page's server with `token` (none: without). A server that wants a
 * token answers UNAUTHORIZED: `needsToken`, with `refused` when a token was given.
 */
export async function openSession(token: string | undefined, onState: (state: ConnectionState) => void): Promise<Opened> {
  try {
    const client = await KoruClient.connect(location.origin, {
      ...(token !== undefined ? { token } : {}),
      timeoutMs: 15_000,
      onStateChange: (state) => onState(state),
    });
    saveToken(token);
    return { client };
  } catch (e) {
    if (isKoruError(e, ErrorCodes.UNAUTHORIZED)) {
      saveToken(undefined);
      return { needsToken: true, refused: token !== undefined };
    }
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

/** Forgets the token and closes the connection. */
export async function signOut(client: KoruClient): Promise<void> {
  saveToken(undefined);
  await client.close();
}
