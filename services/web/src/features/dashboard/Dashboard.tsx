import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { useSession } from '../../app/session';
import { ApiError, KINDS, SEVERITIES, STATUSES } from '../../lib/api';
import { formatView, type Filters } from '../../lib/urlState';

function to(f: Filters) {
  return '/drifts?' + formatView({ filters: f, sort: 'newest', selected: null, node: null, ws: null });
}

function Block({ title, counts, link }: { title: string; counts: [string, number][]; link: (k: string) => Filters }) {
  const max = Math.max(1, ...counts.map(([, n]) => n));
  return (
    <section className="card" aria-labelledby={`h-${title}`}>
      <h2 id={`h-${title}`}>{title}</h2>
      {counts.length === 0 ? (
        <p className="muted">None yet.</p>
      ) : (
        <ul className="bars">
          {counts.map(([k, n]) => (
            <li key={k}>
              <Link to={to(link(k))}>
                <span className="bar-label">{k}</span>
                <span className="bar" style={{ width: `${(n / max) * 100}%` }} aria-hidden="true" />
                <span className="bar-n">{n}</span>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** Counts by severity, kind, status, service and workspace; per day; top principals. */
export function Dashboard() {
  const { api } = useSession();
  const s = useQuery({ queryKey: ['stats'], queryFn: () => api.stats() });
  const top = useQuery({ queryKey: ['drifts', 'recent-500'], queryFn: () => api.listDrifts({ limit: 500 }) });
  if (s.error) return <p role="alert" className="error pad">{s.error instanceof ApiError ? s.error.headline : String(s.error)}</p>;
  if (!s.data) return <p className="empty">Loading…</p>;
  const d = s.data;
  const principals = new Map<string, number>();
  for (const it of top.data?.items ?? []) {
    const k = it.principal.name || it.principal.arn;
    if (k) principals.set(k, (principals.get(k) ?? 0) + 1);
  }
  const topP = [...principals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
  return (
    <div className="dashboard">
      <h1>
        Dashboard <span className="muted">· {d.total} alerts</span>
      </h1>
      {d.total === 0 && <p className="empty">No drift yet. Alerts appear here as soon as the pipeline detects a change to a managed resource.</p>}
      <div className="cards">
        <Block title="By severity" counts={SEVERITIES.map((k) => [k, d.by_severity[k]])} link={(k) => ({ severity: k })} />
        <Block title="By status" counts={STATUSES.map((k) => [k, d.by_status[k]])} link={(k) => ({ status: k })} />
        <Block title="By kind" counts={KINDS.map((k) => [k, d.by_kind[k]])} link={(k) => ({ kind: k })} />
        <Block title="By service" counts={Object.entries(d.by_service)} link={(k) => ({ service: k })} />
        <Block title="By workspace" counts={Object.entries(d.by_workspace).map(([k, n]) => [k || '(none: unmanaged)', n])} link={(k) => (k.startsWith('(') ? { kind: 'unmanaged' } : { workspace: k })} />
        <Block title="Top principals (latest 500)" counts={topP} link={(k) => ({ principal: k })} />
        <Block
          title="Drifts per day (days with drift)"
          counts={d.per_day.filter((p) => p.count > 0).map((p) => [p.date, p.count])}
          link={(k) => ({ since: k + 'T00:00:00Z', until: new Date(Date.parse(k + 'T00:00:00Z') + 86400000).toISOString().replace('.000', '') })}
        />
      </div>
    </div>
  );
}
