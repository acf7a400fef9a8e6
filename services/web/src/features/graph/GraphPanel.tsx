import { useQuery } from '@tanstack/react-query';
import { useEffect, useMemo, useRef, useState } from 'react';
import { useSession } from '../../app/session';
import { ApiError, loadWholeGraph } from '../../lib/api';
import { SeverityPill } from '../drifts/SeverityPill';
import { CyGraph, markAlert, type CyHandle } from './CyGraph';
import { toElements } from './elements';

export interface GraphPanelProps {
  workspace: string | null;
  onWorkspace: (ws: string) => void;
  focus: string | null;
  onNode: (id: string) => void;
}

function useDark(): boolean {
  const [d, set] = useState(() => document.documentElement.dataset.theme === 'dark');
  useEffect(() => {
    const o = new MutationObserver(() => set(document.documentElement.dataset.theme === 'dark'));
    o.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    return () => o.disconnect();
  }, []);
  return d;
}

/** Workspace picker, toolbar, the graph, and a text list of the drifted resources. */
export function GraphPanel(p: GraphPanelProps) {
  const { api, live } = useSession();
  const ws = useQuery({ queryKey: ['workspaces'], queryFn: () => api.workspaces() });
  const names = ws.data?.items.map((w) => w.name) ?? [];
  const workspace = p.workspace; // null: every workspace (parents may cross them)
  const g = useQuery({
    queryKey: ['graph', workspace],
    queryFn: () => loadWholeGraph(api, workspace ?? undefined),
    // a workspace named in the URL is fetched at once, alongside the list
    enabled: workspace !== null || (ws.data !== undefined && names.length > 0),
    staleTime: 60_000,
  });
  const [driftedOnly, setDriftedOnly] = useState(false);
  const [type, setType] = useState<string>('');
  const [search, setSearch] = useState('');
  const [alerted, setAlerted] = useState<Map<string, string>>(new Map());
  const [layout, setLayout] = useState<{ key: string; ms: number } | null>(null);
  const cy = useRef<CyHandle>(null);
  const dark = useDark();

  const types = useMemo(() => [...new Set(g.data?.nodes.map((n) => n.data.type))].sort(), [g.data]);
  const elements = useMemo(() => toElements(g.data?.nodes ?? [], g.data?.edges ?? [], { driftedOnly, type: type || null }), [g.data, driftedOnly, type]);
  const layoutKey = `${workspace}|${g.data?.generation}|${g.dataUpdatedAt}|${driftedOnly}|${type}`;

  useEffect(() => setAlerted(new Map()), [workspace, g.dataUpdatedAt]);
  const layoutMs = layout?.key === layoutKey ? layout.ms : null;
  useEffect(
    () =>
      live.onAlert((a) => {
        if (workspace !== null && a.workspace !== workspace) return;
        const c = cy.current?.cy();
        if (c && markAlert(c, a)) setAlerted((m) => new Map(m).set(`${a.workspace}:${a.resource_address}`, a.severity));
      }),
    [live, workspace],
  );

  const drifted = useMemo(() => {
    const list = (g.data?.nodes ?? []).filter((n) => n.data.drift_count > 0 || alerted.has(n.data.id)).map((n) => ({
      id: n.data.id,
      address: n.data.address,
      sev: alerted.get(n.data.id) ?? n.data.worst_severity,
      count: n.data.drift_count,
      live: alerted.has(n.data.id),
    }));
    return list.sort((a, b) => (a.live === b.live ? a.address.localeCompare(b.address) : a.live ? -1 : 1));
  }, [g.data, alerted]);

  const exportPng = () => {
    const url = cy.current?.png();
    if (!url) return;
    const a = document.createElement('a');
    a.href = url;
    a.download = `tfdrift-graph-${(workspace ?? 'all').replace(/\W+/g, '-')}.png`;
    a.click();
  };

  let overlay = null;
  if (ws.error || g.error) {
    const e = ws.error ?? g.error;
    overlay = (
      <div role="alert" className="error pad">
        {e instanceof ApiError ? e.headline : String(e)}
      </div>
    );
  } else if (ws.data && names.length === 0) {
    overlay = (
      <div className="empty">
        <p>No Terraform state is loaded. Add a state source under <code>state_loader</code> in the config (local files, S3 or HTTP) and the graph appears once it is read.</p>
      </div>
    );
  } else if (g.isLoading || ws.isLoading) {
    overlay = <p className="empty">Loading graph…</p>;
  } else if (g.data && elements.nodes.length === 0) {
    overlay = <p className="empty">{driftedOnly ? 'No resource in this workspace has open drift.' : 'This workspace has no resources.'}</p>;
  }

  return (
    <div className="graphpanel">
      <div className="toolbar" role="toolbar" aria-label="Graph tools">
        <label>
          Workspace
          <select value={workspace ?? ''} onChange={(e) => p.onWorkspace(e.target.value)}>
            <option value="">All workspaces</option>
            {names.map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        <label>
          Type
          <select value={type} onChange={(e) => setType(e.target.value)}>
            <option value="">all types</option>
            {types.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={driftedOnly} onChange={(e) => setDriftedOnly(e.target.checked)} /> Drifted only
        </label>
        <label>
          Find
          <input type="search" value={search} placeholder="address or id" onChange={(e) => setSearch(e.target.value)} />
        </label>
        <button type="button" className="small" onClick={() => cy.current?.fit()}>
          Fit
        </button>
        <button type="button" className="small" onClick={() => cy.current?.zoom(1.25)} aria-label="Zoom in">
          +
        </button>
        <button type="button" className="small" onClick={() => cy.current?.zoom(0.8)} aria-label="Zoom out">
          −
        </button>
        <button type="button" className="small" onClick={exportPng}>
          Export PNG
        </button>
      </div>
      <div className="cywrap">
        <CyGraph
          ref={cy}
          elements={elements}
          layoutKey={layoutKey}
          focus={p.focus}
          search={search}
          dark={dark}
          onNode={p.onNode}
          onLayout={(ms) => setLayout({ key: layoutKey, ms })}
          label={`Resource graph of ${workspace ?? 'all workspaces'}: ${elements.nodes.length} nodes, ${elements.edges.length} edges`}
        />
        {overlay && <div className="overlay">{overlay}</div>}
      </div>
      <details className="drifted" open>
        <summary>
          Resources with drift ({drifted.length}) · {elements.nodes.length} nodes
          {layoutMs !== null && <span className="muted"> · laid out in {Math.round(layoutMs)} ms</span>}
        </summary>
        <ul aria-label="Resources with drift">
          {drifted.map((d) => (
            <li key={d.id}>
              <button type="button" className="linklike" onClick={() => p.onNode(d.id)} aria-current={p.focus === d.id ? 'true' : undefined}>
                {d.address}
              </button>{' '}
              <SeverityPill s={d.sev} /> {d.count > 0 && <span className="muted">{d.count} open</span>}
              {d.live && <strong className="newalert"> new alert</strong>}
            </li>
          ))}
        </ul>
      </details>
    </div>
  );
}
