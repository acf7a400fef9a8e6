import { ApiError } from '../../lib/api';
import type { Filters, Sort } from '../../lib/urlState';
import { DriftTable } from './DriftTable';
import { FilterBar } from './Filters';
import { useDriftRows } from './useDriftRows';

export interface DriftListProps {
  filters: Filters;
  sort: Sort;
  onFilters: (f: Filters, s: Sort) => void;
  selected: number | null;
  onSelect: (id: number) => void;
  onOpen: (id: number) => void;
  onClose: () => void;
}

/** Filter bar, the live table, and what to do when it is empty. */
export function DriftList(p: DriftListProps) {
  const d = useDriftRows(p.filters, p.sort);
  const filtered = Object.keys(p.filters).length > 0;
  let body;
  if (d.error) {
    const e = d.error;
    body = (
      <div role="alert" className="error pad">
        {e instanceof ApiError ? e.headline : String(e)}
        {e instanceof ApiError && e.status === 0 && <p>Is the api-gateway running? The table fills in as soon as it answers.</p>}
      </div>
    );
  } else if (d.isLoading) {
    body = <p className="empty">Loading drifts…</p>;
  } else if (d.rows.length === 0) {
    body = (
      <div className="empty">
        {filtered ? (
          <p>No drift matches these filters. Clear a filter to see more.</p>
        ) : (
          <p>
            No drift yet. When a CloudTrail event changes a Terraform-managed resource, it appears here within seconds. Replay the demo events with <code>tfdrift-ingest replay</code> to try it.
          </p>
        )}
      </div>
    );
  } else {
    body = (
      <DriftTable
        rows={d.rows}
        fresh={d.fresh}
        selected={p.selected}
        onSelect={p.onSelect}
        onOpen={p.onOpen}
        onClose={p.onClose}
        hasNext={d.hasNext}
        fetchNext={d.fetchNext}
        loadingMore={d.isFetchingNext}
        label={`Drift alerts (${d.rows.length}${d.hasNext ? '+' : ''})`}
        sort={p.sort}
        onSort={(s) => p.onFilters(p.filters, s)}
      />
    );
  }
  return (
    <div className="driftlist">
      <FilterBar filters={p.filters} sort={p.sort} onChange={p.onFilters} />
      <p className="muted count" aria-live="polite">
        {d.rows.length} {d.rows.length === 1 ? 'alert' : 'alerts'}
        {d.hasNext ? ' loaded (more on scroll)' : ''}
      </p>
      {body}
    </div>
  );
}
