import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { useSession } from '../../app/session';
import { ApiError } from '../../lib/api';
import { localTime, utcTime } from '../../lib/format';

/** Each state source: serial, resources, last load, last error. */
export function WorkspacesPage() {
  const { api } = useSession();
  const q = useQuery({ queryKey: ['workspaces'], queryFn: () => api.workspaces() });
  return (
    <div className="pad">
      <h1>Workspaces</h1>
      {q.error && <p role="alert" className="error">{q.error instanceof ApiError ? q.error.headline : String(q.error)}</p>}
      {q.data && q.data.items.length === 0 && (
        <p className="empty">No state loaded. Configure <code>state_loader</code> sources (local file, S3, HTTP backend) and start tfdrift-state-loader.</p>
      )}
      {q.data && q.data.items.length > 0 && (
        <table className="table">
          <caption className="visually-hidden">State sources</caption>
          <thead>
            <tr>
              <th scope="col">Workspace</th>
              <th scope="col">Source</th>
              <th scope="col">Serial</th>
              <th scope="col">Resources</th>
              <th scope="col">Terraform</th>
              <th scope="col">Last load</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {q.data.items.map((w) => (
              <tr key={w.name}>
                <th scope="row">
                  <Link to={`/graph?ws=${encodeURIComponent(w.name)}`}>{w.name}</Link>
                </th>
                <td className="mono small-text">
                  {w.source} {w.path}
                </td>
                <td>{w.serial ?? '—'}</td>
                <td>{w.resources ?? '—'}</td>
                <td>{w.terraform_version ?? '—'}</td>
                <td title={utcTime(w.loaded_at)}>{localTime(w.loaded_at)}</td>
                <td className={w.last_error ? 'error' : 'muted'}>{w.last_error || 'none'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
