import { useState, type FormEvent } from 'react';
import { ApiError, makeApi, type Role } from '../../lib/api';
import { useSession } from '../../app/session';

/** The API token, typed once; checked against the gateway before it is kept. */
export function SignIn() {
  const { signIn } = useSession();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    let role: Role | null = null;
    const api = makeApi({ token: () => token.trim(), onRole: (r) => (role = r) });
    try {
      await api.whoami();
      signIn(token.trim(), role ?? 'viewer');
    } catch (err) {
      setError(err instanceof ApiError ? err.headline : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">tfdrift — sign in</h1>
        <p>Paste an API token from the gateway's <code>api_gateway.tokens</code> (with <code>make run</code>, the banner prints one).</p>
        <label htmlFor="token">API token</label>
        <input id="token" type="password" autoComplete="current-password" value={token} onChange={(e) => setToken(e.target.value)} required />
        <button type="submit" disabled={busy || token.trim() === ''}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
