import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useId, useState } from 'react';
import { Link } from 'react-router';
import { useSession } from '../../app/session';
import { ApiError, type DriftDetail, type StatusChange } from '../../lib/api';
import { isDocument, maskValue, show, structuralDiff } from '../../lib/diff';
import { localTime, utcTime } from '../../lib/format';
import { SeverityPill } from './SeverityPill';

function Copy({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      className="small"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(
          () => setDone(true),
          () => setDone(false),
        );
        setTimeout(() => setDone(false), 1500);
      }}
    >
      {done ? 'Copied' : `Copy ${label}`}
    </button>
  );
}

function Time({ iso }: { iso: string | null | undefined }) {
  return <time dateTime={iso ?? undefined} title={utcTime(iso)}>{localTime(iso)}</time>;
}

function Change({ c }: { c: DriftDetail['changes'][number] }) {
  const sensitive = c.sensitive === true;
  if (!sensitive && isDocument(c.old, c.new)) {
    const entries = structuralDiff(c.old, c.new);
    return (
      <div className="change">
        <div className="mono strong">{c.path}</div>
        {entries.length === 0 ? (
          <p className="muted">Same document (only formatting or order differs).</p>
        ) : (
          <ul className="jsondiff" aria-label={`Changes in ${c.path}`}>
            {entries.map((e, i) => (
              <li key={i} className={`op-${e.op}`}>
                <span className="mono">{e.path || '(document)'}</span>{' '}
                {e.op === 'added' && <ins className="new">+ {show(maskValue(e.new, false, e.path))}</ins>}
                {e.op === 'removed' && <del className="old">− {show(maskValue(e.old, false, e.path))}</del>}
                {e.op === 'changed' && (
                  <>
                    <del className="old">{show(maskValue(e.old, false, e.path))}</del> → <ins className="new">{show(maskValue(e.new, false, e.path))}</ins>
                  </>
                )}
              </li>
            ))}
          </ul>
        )}
      </div>
    );
  }
  return (
    <div className="change">
      <div className="mono strong">{c.path}</div>
      <div className="oldnew">
        <del className="old" aria-label="old value">{show(maskValue(c.old, sensitive, c.path))}</del>
        <span aria-hidden="true"> → </span>
        <ins className="new" aria-label="new value">{show(maskValue(c.new, sensitive, c.path))}</ins>
      </div>
    </div>
  );
}

/** Commands for the three ways to settle a drift. */
export function fixes(d: DriftDetail): { label: string; text: string }[] {
  const out: { label: string; text: string }[] = [];
  const ws = d.workspace;
  if (d.kind === 'unmanaged') {
    const id = Object.values(d.identifiers)[0] ?? '<id>';
    out.push({ label: 'import block', text: `import {\n  to = ${d.resource_address}\n  id = "${id}"\n}` });
  } else {
    out.push({ label: 'revert command', text: `terraform -chdir=<${ws}> apply -target='${d.resource_address}'` });
    const hcl = d.changes
      .filter((c) => !c.sensitive)
      .map((c) => `  ${c.path} = ${JSON.stringify(c.new ?? null)}`)
      .join('\n');
    if (hcl) out.push({ label: 'HCL change', text: `# keep the change: in ${d.resource_address}\n${hcl}` });
  }
  return out;
}

const ACTIONS: { status: StatusChange['status']; label: string; from: string[] }[] = [
  { status: 'acknowledged', label: 'Acknowledge', from: ['open'] },
  { status: 'resolved', label: 'Resolve', from: ['open', 'acknowledged'] },
  { status: 'ignored', label: 'Ignore', from: ['open', 'acknowledged'] },
  { status: 'reopened', label: 'Reopen', from: ['acknowledged', 'resolved', 'ignored'] },
];

function Workflow({ d }: { d: DriftDetail }) {
  const { api, role } = useSession();
  const qc = useQueryClient();
  const [note, setNote] = useState('');
  const noteId = useId();
  const m = useMutation({
    mutationFn: (s: StatusChange['status']) => api.patchDrift(d.id, { status: s, note: note || null }),
    onSuccess: (nd) => {
      qc.setQueryData(['drift', d.id], nd);
      void qc.invalidateQueries({ queryKey: ['drifts'] });
      void qc.invalidateQueries({ queryKey: ['stats'] });
      setNote('');
    },
  });
  const canWrite = role === 'operator' || role === 'admin';
  const reason = canWrite ? undefined : `Your token's role is ${role ?? 'unknown'}; changing a status needs the operator role.`;
  return (
    <section aria-labelledby={`${noteId}-h`}>
      <h3 id={`${noteId}-h`}>Status: <span className={`status status-${d.status}`}>{d.status}</span></h3>
      {!canWrite && <p className="muted" id={`${noteId}-why`}>{reason}</p>}
      <label htmlFor={noteId}>Note</label>
      <textarea id={noteId} value={note} onChange={(e) => setNote(e.target.value)} disabled={!canWrite} rows={2} maxLength={2000} aria-describedby={canWrite ? undefined : `${noteId}-why`} />
      <div className="actions">
        {ACTIONS.filter((a) => a.from.includes(d.status)).map((a) => (
          <button key={a.status} type="button" disabled={!canWrite || m.isPending} title={reason} aria-describedby={canWrite ? undefined : `${noteId}-why`} onClick={() => m.mutate(a.status)}>
            {a.label}
          </button>
        ))}
      </div>
      {m.error && (
        <p role="alert" className="error">
          {m.error instanceof ApiError ? m.error.headline : String(m.error)}
        </p>
      )}
      {d.status_history.length > 0 && (
        <ol className="history" aria-label="Status history">
          {d.status_history.map((h, i) => (
            <li key={i}>
              <Time iso={h.at} /> <strong>{h.actor || 'anonymous'}</strong>: {h.from_status ?? 'new'} → {h.to_status}
              {h.note && <q>{h.note}</q>}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

/** Everything known about one alert. */
export function DetailPanel({ id, onClose }: { id: number; onClose: () => void }) {
  const { api } = useSession();
  const q = useQuery({ queryKey: ['drift', id], queryFn: () => api.getDrift(id) });
  const d = q.data;
  // Esc closes, wherever the focus is (but not while typing a note)
  useEffect(() => {
    const f = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !e.defaultPrevented && !(e.target instanceof HTMLTextAreaElement)) onClose();
    };
    window.addEventListener('keydown', f);
    return () => window.removeEventListener('keydown', f);
  }, [onClose]);
  return (
    <aside className="detail" aria-label={`Drift ${id}`}>
      <div className="detail-head">
        <h2>Drift #{id}</h2>
        <button type="button" className="ghost" onClick={onClose} aria-label="Close detail">
          ✕
        </button>
      </div>
      {q.isLoading && <p className="muted">Loading…</p>}
      {q.error && (
        <p role="alert" className="error">
          {q.error instanceof ApiError ? q.error.headline : String(q.error)}
        </p>
      )}
      {d && (
        <>
          <p className="summary">
            <SeverityPill s={d.severity} /> <strong>{d.kind}</strong> of <span className="mono">{d.resource_address}</span> in {d.workspace}
          </p>
          {d.summary && <p>{d.summary}</p>}
          <dl className="facts">
            <dt>Event</dt>
            <dd>
              {d.event_name} <span className="muted">({d.event_source})</span>
            </dd>
            <dt>Who</dt>
            <dd>
              {/* the person (SSO user, session name or IAM user), then the role they acted through */}
              {d.principal.name || d.principal.session_name || '—'}{' '}
              <span className="muted">
                ({d.principal.type}
                {d.principal.role_arn ? `, role ${d.principal.role_arn.split('/').pop()}` : ''})
              </span>
              {d.principal.session_name && d.principal.session_name !== d.principal.name && <div>session {d.principal.session_name}</div>}
              <div className="mono small-text">{d.principal.arn}</div>
              {d.principal.role_arn && <div className="mono small-text">role: {d.principal.role_arn}</div>}
            </dd>
            <dt>Event time</dt>
            <dd>
              <Time iso={d.event_time} />
            </dd>
            <dt>Detected</dt>
            <dd>
              <Time iso={d.detected_at} />
            </dd>
            <dt>Region / account</dt>
            <dd>
              {d.region || '—'} / {d.account_id || '—'}
            </dd>
            <dt>Source IP</dt>
            <dd className="mono">{d.source_ip || '—'}</dd>
            <dt>User agent</dt>
            <dd className="mono small-text">{d.user_agent || '—'}</dd>
            {d.falco_rule && (
              <>
                <dt>Falco rule</dt>
                <dd>
                  {d.falco_rule} ({d.falco_priority})
                </dd>
              </>
            )}
          </dl>
          <section>
            <h3>Changes</h3>
            {d.changes.length === 0 ? <p className="muted">No attribute values recorded for this alert.</p> : d.changes.map((c, i) => <Change key={i} c={c} />)}
          </section>
          <section>
            <h3>Recommended fix</h3>
            {d.recommended_fix && <p>{d.recommended_fix}</p>}
            {fixes(d).map((f) => (
              <div key={f.label} className="fix">
                <div className="fix-head">
                  <span>{f.label}</span> <Copy text={f.text} label={f.label} />
                </div>
                <pre tabIndex={0} aria-label={f.label}>{f.text}</pre>
              </div>
            ))}
          </section>
          <Workflow d={d} />
          <details>
            <summary>Raw CloudTrail event</summary>
            {d.raw_event ? (
              <>
                <Copy text={JSON.stringify(d.raw_event, null, 2)} label="raw event" />
                <pre className="raw" tabIndex={0} aria-label="Raw CloudTrail event">{JSON.stringify(d.raw_event, null, 2)}</pre>
              </>
            ) : (
              <p className="muted">No raw event kept.</p>
            )}
          </details>
          <p>
            <Link to={`/resources/${encodeURIComponent(d.resource_address)}?workspace=${encodeURIComponent(d.workspace)}`}>Resource page for {d.resource_address}</Link>
          </p>
        </>
      )}
    </aside>
  );
}
