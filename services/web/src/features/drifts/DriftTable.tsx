import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import type { DriftItem } from '../../lib/api';
import { maskValue, show } from '../../lib/diff';
import { shortTime, utcTime } from '../../lib/format';
import { SeverityPill } from './SeverityPill';

const ROW = 36;
const COLS = ['Time', 'Severity', 'Kind', 'Workspace', 'Resource', 'Change', 'Who', 'Event', 'Status'];

export interface DriftTableProps {
  rows: DriftItem[];
  fresh: ReadonlySet<number>;
  selected: number | null;
  onSelect: (id: number) => void;
  onOpen: (id: number) => void;
  onClose: () => void;
  hasNext: boolean;
  fetchNext: () => void;
  loadingMore: boolean;
  label: string;
  sort: 'newest' | 'oldest';
  onSort: (s: 'newest' | 'oldest') => void;
}

/** A virtualised ARIA grid: only the visible rows are in the DOM, each a
 * `row` with its index, so screen readers still read it as a table.
 * Keys: j/k or arrows move, Enter opens, Esc closes. */
export function DriftTable(p: DriftTableProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const [active, setActive] = useState<number>(() => Math.max(0, p.rows.findIndex((r) => r.id === p.selected)));
  const v = useVirtualizer({ count: p.rows.length, getScrollElement: () => scroller.current, estimateSize: () => ROW, overscan: 12, scrollPaddingStart: ROW });
  const items = v.getVirtualItems();
  const last = items[items.length - 1];

  useEffect(() => {
    if (last && last.index >= p.rows.length - 20 && p.hasNext && !p.loadingMore) p.fetchNext();
  }, [last, p]);

  // follow an outside selection (a node click, a deep link)
  useEffect(() => {
    if (p.selected === null) return;
    const i = p.rows.findIndex((r) => r.id === p.selected);
    if (i >= 0) {
      setActive(i);
      v.scrollToIndex(i, { align: 'auto' });
    }
  }, [p.selected, p.rows, v]);

  const move = (d: number) => {
    const i = Math.min(p.rows.length - 1, Math.max(0, active + d));
    setActive(i);
    v.scrollToIndex(i, { align: 'auto' });
    const r = p.rows[i];
    if (r) p.onSelect(r.id);
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
    if (e.key === 'j' || e.key === 'ArrowDown') move(1);
    else if (e.key === 'k' || e.key === 'ArrowUp') move(-1);
    else if (e.key === 'Enter') {
      const r = p.rows[active];
      if (r) p.onOpen(r.id);
    } else if (e.key === 'Escape') p.onClose();
    else return;
    e.preventDefault();
  };
  const activeRow = p.rows[active];

  return (
    <div
      ref={scroller}
      className="grid"
      role="grid"
      aria-label={p.label}
      aria-rowcount={p.rows.length + 1}
      aria-colcount={COLS.length}
      tabIndex={0}
      onKeyDown={onKey}
      aria-activedescendant={activeRow ? `drift-row-${activeRow.id}` : undefined}
    >
      <div role="rowgroup" className="grid-head">
        <div role="row" aria-rowindex={1} className="grid-row">
          {COLS.map((c) => (
            <div role="columnheader" key={c} className={`c-${c.toLowerCase()}`} aria-sort={c === 'Time' ? (p.sort === 'newest' ? 'descending' : 'ascending') : undefined}>
              {c === 'Time' ? (
                <button type="button" className="sortbtn" onClick={() => p.onSort(p.sort === 'newest' ? 'oldest' : 'newest')} title="Sort by time">
                  Time {p.sort === 'newest' ? '↓' : '↑'}
                </button>
              ) : (
                c
              )}
            </div>
          ))}
        </div>
      </div>
      <div className="grid-body" role="rowgroup">
        <div style={{ height: v.getTotalSize(), position: 'relative' }}>
          {items.map((it) => {
            const r = p.rows[it.index]!;
            const cls = ['grid-row', p.fresh.has(r.id) ? 'fresh' : '', r.id === p.selected ? 'selected' : '', it.index === active ? 'active' : ''].join(' ');
            return (
              <div
                key={r.id}
                id={`drift-row-${r.id}`}
                role="row"
                aria-rowindex={it.index + 2}
                aria-selected={r.id === p.selected}
                className={cls}
                style={{ position: 'absolute', top: 0, left: 0, right: 0, height: ROW, transform: `translateY(${it.start}px)` }}
                onClick={() => {
                  setActive(it.index);
                  p.onSelect(r.id);
                }}
                onDoubleClick={() => p.onOpen(r.id)}
              >
                <div role="gridcell" className="c-time" title={utcTime(r.event_time ?? r.detected_at)}>
                  {shortTime(r.event_time ?? r.detected_at)}
                </div>
                <div role="gridcell" className="c-severity">
                  <SeverityPill s={r.severity} />
                </div>
                <div role="gridcell" className="c-kind">{r.kind}</div>
                <div role="gridcell" className="c-workspace">{r.workspace}</div>
                <div role="gridcell" className="c-resource mono" title={r.resource_address || r.resource_type}>
                  {r.resource_address || <span className="muted">{r.resource_type || 'no resource'}</span>}
                </div>
                <div role="gridcell" className="c-change" title={r.summary}>
                  <ChangeCell item={r} />
                </div>
                <div role="gridcell" className="c-who" title={r.principal.arn}>
                  {r.principal.name || '—'}
                </div>
                <div role="gridcell" className="c-event">{r.event_name}</div>
                <div role="gridcell" className="c-status">
                  <span className={`status status-${r.status}`}>{r.status}</span>
                </div>
              </div>
            );
          })}
        </div>
        {p.loadingMore && <p className="muted pad">Loading more…</p>}
      </div>
    </div>
  );
}

/** One line: the first changed attribute as old → new (sensitive values masked,
 * long values cut), "+N" when there are more; the summary when nothing was
 * recorded. */
function ChangeCell({ item }: { item: DriftItem }) {
  const changes = item.changes ?? [];
  const c = changes[0];
  if (c === undefined) {
    return (
      <>
        <span className="mono">{item.attribute || '—'}</span> {item.summary && <span className="muted">{item.summary}</span>}
      </>
    );
  }
  const sensitive = c.sensitive === true;
  const cut = (v: unknown) => {
    const t = show(maskValue(v, sensitive, c.path));
    return t.length > 14 ? `${t.slice(0, 13)}…` : t;
  };
  return (
    <>
      <span className="mono">{c.path}</span>{' '}
      <del className="old" aria-label="old value">{cut(c.old)}</del> → <ins className="new" aria-label="new value">{cut(c.new)}</ins>
      {changes.length > 1 && <span className="muted"> +{changes.length - 1}</span>}
    </>
  );
}
