import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { useSession } from '../../app/session';
import { ApiError } from '../../lib/api';
import { localTime } from '../../lib/format';
import { SeverityPill } from '../drifts/SeverityPill';

/** The drifts of one graph node ("workspace:address"). */
export function NodeDrifts({ node, onClose }: { node: string; onClose: () => void }) {
  const { api } = useSession();
  const i = node.indexOf(':');
  const workspace = node.slice(0, i);
  const address = node.slice(i + 1);
  const glob = address.replace(/[*?]/g, '?');
  const q = useQuery({ queryKey: ['drifts', 'node', node], queryFn: () => api.listDrifts({ workspace, address: glob, limit: 100 }) });
  return (
    <aside className="detail" aria-label={`Drifts of ${address}`}>
      <div className="detail-head">
        <h2 className="mono">{address}</h2>
        <button type="button" className="ghost" onClick={onClose} aria-label="Close">
          ✕
        </button>
      </div>
      <p>
        {workspace} · <Link to={`/resources/${encodeURIComponent(address)}?workspace=${encodeURIComponent(workspace)}`}>Resource page</Link>
      </p>
      {q.error && <p role="alert" className="error">{q.error instanceof ApiError ? q.error.headline : String(q.error)}</p>}
      {q.data && q.data.items.length === 0 && <p className="muted">No drift recorded for this resource.</p>}
      <ul className="plain">
        {q.data?.items.map((d) => (
          <li key={d.id}>
            <Link to={`/drifts/${d.id}`}>
              <SeverityPill s={d.severity} /> {d.kind} {d.attribute} · {localTime(d.event_time ?? d.detected_at)} · {d.status}
            </Link>
          </li>
        ))}
      </ul>
    </aside>
  );
}
