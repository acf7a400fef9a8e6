import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { lazy, Suspense, useEffect, useState } from 'react';
import { BrowserRouter, NavLink, Route, Routes } from 'react-router';
import { ApiError } from '../lib/api';
import { SessionProvider, useSession } from './session';
import { LiveStatusBadge } from './LiveStatusBadge';
import { SignIn } from '../features/auth/SignIn';
import { DriftsPage } from '../features/drifts/DriftsPage';
import { SplitView } from '../features/split/SplitView';
import { Dashboard } from '../features/dashboard/Dashboard';
import { WorkspacesPage } from '../features/workspaces/WorkspacesPage';
import { ResourcePage } from '../features/resources/ResourcePage';
import { useLiveCache } from './useLiveCache';

// Cytoscape is only loaded by the views that draw a graph.
const GraphPage = lazy(() => import('../features/graph/GraphPage'));

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 30_000,
      refetchOnWindowFocus: false,
      retry: (n, e) => !(e instanceof ApiError && (e.status === 401 || e.status === 403 || e.status === 404)) && n < 2,
    },
  },
});

type Theme = 'light' | 'dark';
function useTheme(): [Theme, () => void] {
  const [t, set] = useState<Theme>(() => {
    const s = localStorage.getItem('tfdrift.theme');
    if (s === 'light' || s === 'dark') return s;
    return matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  });
  useEffect(() => {
    document.documentElement.dataset.theme = t;
    localStorage.setItem('tfdrift.theme', t);
  }, [t]);
  return [t, () => set(t === 'dark' ? 'light' : 'dark')];
}

function Shell() {
  const { token, role, signOut } = useSession();
  const [theme, toggle] = useTheme();
  useLiveCache();
  if (!token) return <SignIn />;
  return (
    <div className="shell">
      <header className="topbar">
        <a className="brand" href="/">
          tfdrift
        </a>
        <nav aria-label="Views">
          <NavLink to="/" end>
            Split
          </NavLink>
          <NavLink to="/graph">Graph</NavLink>
          <NavLink to="/drifts">Drifts</NavLink>
          <NavLink to="/dashboard">Dashboard</NavLink>
          <NavLink to="/workspaces">Workspaces</NavLink>
        </nav>
        <div className="topbar-right">
          <button type="button" className="ghost" onClick={toggle} aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}>
            {theme === 'dark' ? '☀' : '☾'}
          </button>
          <span className="role" title="The role of your API token">
            Role: <strong>{role ?? 'unknown'}</strong>
          </span>
          <button type="button" className="ghost" onClick={signOut}>
            Sign out
          </button>
          <LiveStatusBadge />
        </div>
      </header>
      <main className="content">
        <Suspense fallback={<p className="empty">Loading…</p>}>
          <Routes>
            <Route path="/" element={<SplitView />} />
            <Route path="/graph" element={<GraphPage />} />
            <Route path="/drifts" element={<DriftsPage />} />
            <Route path="/drifts/:id" element={<DriftsPage />} />
            <Route path="/resources/*" element={<ResourcePage />} />
            <Route path="/dashboard" element={<Dashboard />} />
            <Route path="/workspaces" element={<WorkspacesPage />} />
            <Route path="*" element={<p className="empty">No such page. Pick a view above.</p>} />
          </Routes>
        </Suspense>
      </main>
    </div>
  );
}

export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <SessionProvider>
        <BrowserRouter>
          <Shell />
        </BrowserRouter>
      </SessionProvider>
    </QueryClientProvider>
  );
}
