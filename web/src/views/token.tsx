// The token prompt, shown when the API answers 401: the server has API_TOKEN set and this tab has
// no token, or one it refuses. The token is kept in sessionStorage (this tab only, until it
// closes) and sent as `Authorization: Bearer …`.

import { useState } from 'preact/hooks';
import { Heading } from '../ui/heading';

export function TokenPrompt({ refused, onToken }: { refused: boolean; onToken: (token: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <section class="view token">
      <Heading>API token</Heading>
      <p>
        This server asks for its API token (<code>API_TOKEN</code>) to read messages. It is kept for this browser tab only and
        sent with each request.
      </p>
      {refused ? (
        <p class="bad" role="alert">
          The server did not accept the token this tab had: enter it again.
        </p>
      ) : null}
      <form
        aria-label="API token"
        onSubmit={(e) => {
          e.preventDefault();
          const token = value.trim();
          if (token !== '') onToken(token);
        }}
      >
        <label for="api-token">API token</label>
        <input
          id="api-token"
          type="password"
          autocomplete="current-password"
          required
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
        />
        <button type="submit">Continue</button>
      </form>
    </section>
  );
}
