// Cytoscape elements and styles as data (no cy instance here, so it is testable).
import type { GraphEdge, GraphNode } from '../../lib/api';
import { severityRank } from '../../lib/urlState';

export interface NodeData {
  id: string;
  label: string;
  address: string;
  workspace: string;
  type: string;
  parent?: string;
  drift_count: number;
  worst_severity: string | null;
  kind: 'vpc' | 'subnet' | 'resource';
}

export interface GraphFilter {
  driftedOnly: boolean;
  type: string | null;
}

function shortLabel(address: string): string {
  const parts = address.split('.');
  return parts.slice(-2).join('.');
}

/** Nodes (with compound parents that exist) and edges whose ends both exist.
 * A filtered-out parent keeps its children at the top level. */
export function toElements(nodes: GraphNode[], edges: GraphEdge[], f: GraphFilter) {
  const keep = new Map<string, NodeData>();
  const all = new Map<string, GraphNode['data']>();
  for (const n of nodes) all.set(n.data.id, n.data);
  const parentOf = (d: GraphNode['data']) => (d as { parent?: string | null }).parent ?? undefined;
  const isContainer = new Set<string>();
  for (const n of nodes) {
    const p = parentOf(n.data);
    if (p && all.has(p)) isContainer.add(p);
  }
  for (const n of nodes) {
    const d = n.data;
    const container = isContainer.has(d.id);
    if (!container) {
      if (f.driftedOnly && d.drift_count === 0) continue;
      if (f.type && d.type !== f.type) continue;
    }
    keep.set(d.id, {
      id: d.id,
      label: shortLabel(d.address),
      address: d.address,
      workspace: d.workspace,
      type: d.type,
      drift_count: d.drift_count,
      worst_severity: d.worst_severity ?? null,
      kind: d.type === 'aws_vpc' ? 'vpc' : d.type === 'aws_subnet' ? 'subnet' : 'resource',
    });
  }
  // containers left empty by a filter go too
  if (f.driftedOnly || f.type) {
    const used = new Set<string>();
    for (const n of nodes) {
      let p = parentOf(n.data);
      if (!keep.has(n.data.id) || isContainer.has(n.data.id)) continue;
      while (p && !used.has(p)) {
        used.add(p);
        p = all.get(p) ? parentOf(all.get(p)!) : undefined;
      }
    }
    for (const id of [...keep.keys()]) if (isContainer.has(id) && !used.has(id)) keep.delete(id);
  }
  for (const n of nodes) {
    const k = keep.get(n.data.id);
    const p = parentOf(n.data);
    if (k && p && keep.has(p)) k.parent = p;
  }
  const es = edges.filter((e) => keep.has(e.data.source) && keep.has(e.data.target));
  return {
    nodes: [...keep.values()].map((data) => ({ group: 'nodes' as const, data })),
    edges: es.map((e) => ({ group: 'edges' as const, data: e.data })),
  };
}

export const SEVERITY_COLOUR: Record<string, string> = {
  critical: '#c92a2a',
  high: '#e8590c',
  medium: '#e0a100',
  low: '#2f9e44',
  info: '#1c7ed6',
};

export function worse(a: string | null, b: string | null): string | null {
  return severityRank(a) >= severityRank(b) ? a : b;
}

/** big: above FORCE_LAYOUT_MAX nodes only containers, drifted, found and
 * focused nodes are labelled (measuring thousands of labels makes the first
 * frame take seconds, and at the zoom that shows them all none is legible). */
export function graphStyle(dark: boolean, big = false) {
  const fg = dark ? '#e9ecef' : '#212529';
  const muted = dark ? '#495057' : '#ced4da';
  return [
    {
      selector: 'node',
      style: {
        label: 'data(label)',
        'font-size': 10,
        color: fg,
        'text-valign': 'bottom',
        'text-margin-y': 3,
        'background-color': dark ? '#868e96' : '#adb5bd',
        width: 18,
        height: 18,
        'min-zoomed-font-size': 7,
      },
    },
    ...(big ? [{ selector: 'node', style: { label: '' } }, { selector: ':parent, node.focus, node.match, node.blast', style: { label: 'data(label)' } }] : []),
    { selector: 'node[drift_count > 0]', style: { label: (n: { data: (k: string) => unknown }) => `${n.data('label')} ⚠${n.data('drift_count')}` } },
    ...Object.entries(SEVERITY_COLOUR).map(([s, c]) => ({
      selector: `node[worst_severity = "${s}"]`,
      style: { 'background-color': c, 'border-width': 3, 'border-color': c, width: 24, height: 24 },
    })),
    {
      selector: ':parent',
      style: {
        'background-opacity': dark ? 0.12 : 0.06,
        'background-color': dark ? '#74c0fc' : '#1c7ed6',
        'border-width': 1,
        'border-color': dark ? '#74c0fc' : '#1971c2',
        'text-valign': 'top',
        'text-halign': 'center',
        'font-weight': 'bold',
        padding: 12,
      },
    },
    { selector: 'node[kind = "vpc"]:parent', style: { 'border-style': 'dashed', 'border-width': 2 } },
    { selector: 'edge', style: { width: 1, 'line-color': muted, 'curve-style': 'haystack', opacity: 0.8 } },
    { selector: 'node.dim', style: { opacity: 0.25 } },
    { selector: 'edge.dim', style: { opacity: 0.1 } },
    { selector: 'node.focus', style: { 'border-width': 5, 'border-color': dark ? '#ffd43b' : '#5f3dc4', 'z-index': 10 } },
    { selector: 'node.blast', style: { 'border-width': 3, 'border-color': dark ? '#ffd43b' : '#7048e8' } },
    { selector: 'edge.blast', style: { 'line-color': dark ? '#ffd43b' : '#7048e8', width: 2, opacity: 1 } },
    { selector: 'node.match', style: { 'border-width': 4, 'border-color': '#12b886' } },
    { selector: 'node.flash', style: { 'background-color': SEVERITY_COLOUR.critical!, 'border-color': '#fa5252', 'border-width': 6 } },
  ];
}

/** Positions for a big compound graph without a force layout: every
 * container's children are shelf-packed into rows (containers and leaves
 * alike), recursively, and the top level the same way.  Linear in the
 * number of nodes, so 5,000 nodes take milliseconds where fcose takes
 * minutes on a small machine.  Only leaves get positions; Cytoscape draws
 * each compound box around its children. */
export function packedPositions(nodes: { data: { id: string; parent?: string } }[]): Map<string, { x: number; y: number }> {
  const LEAF_W = 70, LEAF_H = 56, PAD = 24, GAP = 16;
  const kids = new Map<string, string[]>();
  const top: string[] = [];
  for (const n of nodes) {
    const p = n.data.parent;
    if (p) {
      const l = kids.get(p);
      if (l) l.push(n.data.id);
      else kids.set(p, [n.data.id]);
    } else top.push(n.data.id);
  }
  type Box = { w: number; h: number; place: { id: string; x: number; y: number }[] };
  const boxOf = new Map<string, Box>();
  // pack ids (their boxes known) into rows about as wide as the whole is tall
  const pack = (ids: string[]): Box => {
    const sized = ids.map((id) => ({ id, b: boxOf.get(id) ?? { w: LEAF_W, h: LEAF_H, place: [] } }));
    sized.sort((a, b) => b.b.h - a.b.h); // tall first: tidier shelves
    const area = sized.reduce((s, x) => s + (x.b.w + GAP) * (x.b.h + GAP), 0);
    const rowW = Math.max(LEAF_W, Math.sqrt(area) * 1.3);
    const place: { id: string; x: number; y: number }[] = [];
    let x = 0, y = 0, rowH = 0, w = 0;
    for (const { id, b } of sized) {
      if (x > 0 && x + b.w > rowW) {
        y += rowH + GAP;
        x = 0;
        rowH = 0;
      }
      place.push({ id, x, y });
      x += b.w + GAP;
      rowH = Math.max(rowH, b.h);
      w = Math.max(w, x - GAP);
    }
    return { w, h: y + rowH, place };
  };
  // containers bottom-up (children before parents)
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    for (const k of kids.get(id) ?? []) visit(k);
    order.push(id);
  };
  for (const id of top) visit(id);
  for (const id of kids.keys()) visit(id); // parents missing from the list
  for (const id of order) {
    const ks = kids.get(id);
    if (!ks) continue;
    const b = pack(ks);
    boxOf.set(id, { w: b.w + 2 * PAD, h: b.h + 2 * PAD + 14, place: b.place });
  }
  const pos = new Map<string, { x: number; y: number }>();
  const assign = (id: string, x: number, y: number) => {
    const b = boxOf.get(id);
    if (!b || !kids.has(id)) {
      pos.set(id, { x: x + LEAF_W / 2, y: y + LEAF_H / 2 });
      return;
    }
    for (const p of b.place) assign(p.id, x + PAD + p.x, y + PAD + 14 + p.y);
  };
  const root = pack(top);
  for (const p of root.place) assign(p.id, p.x, p.y);
  return pos;
}
