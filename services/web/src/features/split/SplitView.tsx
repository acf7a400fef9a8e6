import { lazy, Suspense, useRef, useState, type KeyboardEvent, type PointerEvent } from 'react';
import { useView } from '../../app/useView';
import { DetailPanel } from '../drifts/DetailPanel';
import { DriftList } from '../drifts/DriftList';
import { useDriftRows } from '../drifts/useDriftRows';

const GraphPanel = lazy(() => import('../graph/GraphPanel').then((m) => ({ default: m.GraphPanel })));

/** / : graph and table side by side.  A row selects its node (and its blast
 * radius); a node filters the table to its resource. */
export function SplitView() {
  const [view, setView] = useView();
  const [left, setLeft] = useState(() => Number(localStorage.getItem('tfdrift.split')) || 45);
  const [open, setOpen] = useState<number | null>(null);
  const wrap = useRef<HTMLDivElement>(null);
  const dragging = useRef(false);

  const nodeFilters = (() => {
    if (!view.node) return view.filters;
    const i = view.node.indexOf(':');
    return { ...view.filters, workspace: view.node.slice(0, i), address: view.node.slice(i + 1).replace(/[*?]/g, '?') };
  })();
  // the selected row's resource, for the graph
  const rows = useDriftRows(nodeFilters, view.sort);
  const sel = rows.rows.find((r) => r.id === view.selected);
  const focus = view.node ?? (sel ? `${sel.workspace}:${sel.resource_address}` : null);
  const graphWs = view.ws; // null: every workspace

  const setSize = (v: number) => {
    const c = Math.min(80, Math.max(20, Math.round(v)));
    setLeft(c);
    localStorage.setItem('tfdrift.split', String(c));
  };
  const onMove = (e: PointerEvent) => {
    if (!dragging.current || !wrap.current) return;
    const r = wrap.current.getBoundingClientRect();
    setSize(((e.clientX - r.left) / r.width) * 100);
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'ArrowLeft') setSize(left - 5);
    else if (e.key === 'ArrowRight') setSize(left + 5);
    else return;
    e.preventDefault();
  };

  return (
    <div className="split" ref={wrap} onPointerMove={onMove} onPointerUp={() => (dragging.current = false)}>
      <h1 className="visually-hidden">Graph and drifts</h1>
      <section className="pane" style={{ width: `${left}%` }} aria-label="Graph">
        <Suspense fallback={<p className="empty">Loading graph…</p>}>
          <GraphPanel
            workspace={graphWs}
            onWorkspace={(ws) => setView({ ws: ws || null, node: null })}
            focus={focus}
            onNode={(node) => setView({ node: node === view.node ? null : node, selected: null })}
          />
        </Suspense>
      </section>
      <div
        className="splitter"
        role="separator"
        aria-orientation="vertical"
        aria-label="Resize graph and table"
        aria-valuenow={left}
        aria-valuemin={20}
        aria-valuemax={80}
        tabIndex={0}
        onKeyDown={onKey}
        onPointerDown={(e) => {
          dragging.current = true;
          (e.target as HTMLElement).setPointerCapture?.(e.pointerId);
        }}
      />
      <section className="pane" style={{ width: `${100 - left}%` }} aria-label="Drift table">
        {view.node && (
          <p className="chip">
            Showing drifts of <span className="mono">{view.node}</span>{' '}
            <button type="button" className="small" onClick={() => setView({ node: null })}>
              Show all
            </button>
          </p>
        )}
        <DriftList
          filters={nodeFilters}
          sort={view.sort}
          onFilters={(filters, sort) => setView({ filters, sort, node: null })}
          selected={view.selected}
          onSelect={(id) => setView({ selected: id }, true)}
          onOpen={(id) => setOpen(id)}
          onClose={() => setOpen(null)}
        />
        {open !== null && (
          <div className="drawer">
            <DetailPanel id={open} onClose={() => setOpen(null)} />
          </div>
        )}
      </section>
    </div>
  );
}
