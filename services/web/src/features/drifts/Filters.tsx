import { useEffect, useState, type FormEvent } from 'react';
import { KINDS, SEVERITIES, STATUSES } from '../../lib/api';
import type { Filters as F, FilterKey, Sort } from '../../lib/urlState';

const TEXT: [FilterKey, string, string][] = [
  ['q', 'Search', 'address, principal or event'],
  ['workspace', 'Workspace', 'prod/app'],
  ['resource_type', 'Resource type', 'aws_s3_bucket'],
  ['service', 'Service', 's3'],
  ['principal', 'Principal', 'name or ARN'],
  ['region', 'Region', 'us-east-1'],
  ['account', 'Account', '123456789012'],
  ['event_name', 'Event name', 'PutBucketPolicy'],
];

/** Server-side filters (the REST parameters); applied on submit or on a select change. */
export function FilterBar({ filters, sort, onChange }: { filters: F; sort: Sort; onChange: (f: F, s: Sort) => void }) {
  const [draft, setDraft] = useState<F>(filters);
  const [more, setMore] = useState(false);
  useEffect(() => setDraft(filters), [filters]);

  const setKey = (k: FilterKey, v: string, apply = false) => {
    const next = { ...draft };
    if (v === '') delete next[k];
    else next[k] = v;
    setDraft(next);
    if (apply) onChange(next, sort);
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    onChange(draft, sort);
  };
  const sel = (k: 'severity' | 'status' | 'kind', label: string, values: readonly string[]) => (
    <label>
      {label}
      <select value={draft[k] ?? ''} onChange={(e) => setKey(k, e.target.value, true)}>
        <option value="">any</option>
        {values.map((v) => (
          <option key={v} value={v}>
            {v}
          </option>
        ))}
        {draft[k]?.includes(',') && <option value={draft[k]}>{draft[k]}</option>}
      </select>
    </label>
  );
  const shown = more ? TEXT : TEXT.slice(0, 2);
  return (
    <form className="filters" role="search" aria-label="Filter drifts" onSubmit={submit}>
      {sel('severity', 'Severity', SEVERITIES)}
      {sel('status', 'Status', STATUSES)}
      {sel('kind', 'Kind', KINDS)}
      {shown.map(([k, label, ph]) => (
        <label key={k}>
          {label}
          <input type="search" value={draft[k] ?? ''} placeholder={ph} onChange={(e) => setKey(k, e.target.value)} />
        </label>
      ))}
      {more && (
        <>
          <label>
            Since
            <input type="datetime-local" value={draft.since ?? ''} onChange={(e) => setKey('since', e.target.value)} />
          </label>
          <label>
            Until
            <input type="datetime-local" value={draft.until ?? ''} onChange={(e) => setKey('until', e.target.value)} />
          </label>
        </>
      )}
      <label>
        Sort
        <select value={sort} onChange={(e) => onChange(draft, e.target.value as Sort)}>
          <option value="newest">newest first</option>
          <option value="oldest">oldest first</option>
        </select>
      </label>
      <div className="filter-actions">
        <button type="submit">Apply</button>
        <button type="button" className="ghost" onClick={() => setMore(!more)} aria-expanded={more}>
          {more ? 'Fewer filters' : 'More filters'}
        </button>
        {Object.keys(filters).length > 0 && (
          <button type="button" className="ghost" onClick={() => onChange({}, sort)}>
            Clear
          </button>
        )}
      </div>
    </form>
  );
}
