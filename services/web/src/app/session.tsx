// The signed-in session: the API token (sessionStorage, never the URL), the
// token's role as the gateway reports it, the API client and the live feed.
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { makeApi, type Api, type Role } from '../lib/api';
import { LiveFeed, type LiveStatus } from '../lib/live';

const KEY = 'tfdrift.token';

export interface Session {
  token: string | null;
  role: Role | null;
  api: Api;
  live: LiveFeed;
  signIn: (token: string, role: Role) => void;
  signOut: () => void;
}

const Ctx = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(Ctx);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

function wsUrl(token: string | null): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = token ? '?access_token=' + encodeURIComponent(token) : '';
  return `${proto}//${location.host}/api/v1/ws${q}`;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [token, setToken] = useState<string | null>(() => sessionStorage.getItem(KEY));
  const [role, setRole] = useState<Role | null>(() => (sessionStorage.getItem(KEY + '.role') as Role | null) ?? null);

  const api = useMemo(
    () =>
      makeApi({
        token: () => sessionStorage.getItem(KEY),
        onRole: (r) => {
          if (sessionStorage.getItem(KEY + '.role') !== r) sessionStorage.setItem(KEY + '.role', r);
          setRole(r);
        },
      }),
    [],
  );
  const live = useMemo(
    () =>
      new LiveFeed({
        url: () => wsUrl(sessionStorage.getItem(KEY)),
        fetchPage: (cursor) => api.listDrifts({ limit: 500, ...(cursor ? { cursor } : {}) }),
      }),
    [api],
  );

  useEffect(() => {
    if (!token) return;
    live.start();
    return () => live.stop();
  }, [token, live]);

  const value = useMemo<Session>(
    () => ({
      token,
      role,
      api,
      live,
      signIn: (t, r) => {
        sessionStorage.setItem(KEY, t);
        sessionStorage.setItem(KEY + '.role', r);
        setRole(r);
        setToken(t);
      },
      signOut: () => {
        sessionStorage.removeItem(KEY);
        sessionStorage.removeItem(KEY + '.role');
        setToken(null);
        setRole(null);
      },
    }),
    [token, role, api, live],
  );
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

/** The feed's status, re-rendered on change. */
export function useLiveStatus(): LiveStatus {
  const { live } = useSession();
  const [s, set] = useState<LiveStatus>(live.status);
  useEffect(() => {
    set(live.status);
    const off = live.onStatus(set);
    return () => {
      off();
    };
  }, [live]);
  return s;
}
