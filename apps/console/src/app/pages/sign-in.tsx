/** The sign-in form of a server with a token. */
import { useState } from 'preact/hooks';

export function SignIn({ refused, onToken }: { readonly refused: boolean; readonly onToken: (token: string) => void }) {
  const [token, setToken] = useState('');
  return (
    <section class="narrow">
      <h1>Sign in</h1>
      <p>This server needs its token (the one given to <code>kdelta start --token</code> or <code>KORU_TOKEN</code>).</p>
      {refused ? (
        <p class="error" role="alert">
          The server refused that token.
        </p>
      ) : null}
      <form
        class="sign-in"
        onSubmit={(e) => {
          e.preventDefault();
          if (token !== '') onToken(token);
        }}
      >
        <label for="token">Token</label>
        <input id="token" type="password" autocomplete="current-password" value={token} onInput={(e) => setToken(e.currentTarget.value)} required />
        <button type="submit">Sign in</button>
      </form>
    </section>
  );
}
