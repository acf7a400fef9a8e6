import { useQuery } from '@tanstack/react-query';
import { Link, useParams, useSearchParams } from 'react-router';
import { useSession } from '../../app/session';
import { ApiError } from '../../lib/api';
import { localTime, utcTime } from '../../lib/format';
import { SeverityPill } from '../drifts/SeverityPill';

/** /resources/{address}?workspace=: redacted state attributes and drift timeline. */
export function ResourcePage() {
  const { api } = useSession();
  const params = useParams();
  const [sp] = useSearchParams();
  const address = decodeURIComponent(params['*'] ?? '');
  const workspace = sp.get('workspace') ?? undefined;
  const q = useQuery({ queryKey: ['resource', address, workspace], queryFn: () => api.resource(address, workspace), enabled: address !== '' });
  const r = q.data;
  return (
    <div className="pad resource">
      <h1 className="mono">{address}</h1>
      {q.error && <p role="alert" className="error">{q.error instanceof ApiError ? q.error.headline : String(q.error)}</p>}
      {r && (
        <>
          <p>
            {r.type} in {r.workspace ?? 'no workspace'} {r.module && <>· {r.module}</>} ·{' '}
            {r.in_state ? 'in the current state' : <strong>not in the current state</strong>} ·{' '}
            {r.workspace && <Link to={`/graph?ws=${encodeURIComponent(r.workspace)}&node=${encodeURIComponent(`${r.workspace}:${r.address}`)}`}>Show in graph</Link>}
          </p>
          <div className="cols">
            <section aria-labelledby="tl">
              <h2 id="tl">Drift timeline ({r.drifts.length})</h2>
              {r.drifts.length === 0 ? (
                <p className="muted">No drift recorded for this resource.</p>
              ) : (
                <ol className="timeline">
                  {r.drifts.map((d) => (
                    <li key={d.id}>
                      <time dateTime={d.event_time ?? d.detected_at} title={utcTime(d.event_time ?? d.detected_at)}>
                        {localTime(d.event_time ?? d.detected_at)}
                      </time>{' '}
                      <SeverityPill s={d.severity} /> <Link to={`/drifts/${d.id}`}>{d.kind} {d.attribute}</Link> by {d.principal.name || '—'} · {d.status}
                    </li>
                  ))}
                </ol>
              )}
            </section>
            <section aria-labelledby="attrs">
              <h2 id="attrs">State attributes (sensitive values redacted)</h2>
              {r.attributes ? <pre className="raw" tabIndex={0} aria-label="State attributes">{JSON.stringify(r.attributes, null, 2)}</pre> : <p className="muted">Not in the current state.</p>}
            </section>
          </div>
        </>
      )}
    </div>
  );
}
