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

/** Two short lines, the type (without aws_) and the name: half the width
 * of the address, so labels fit between nodes. */
function shortLabel(type: string, address: string): string {
  const name = address.split('.').pop() ?? address;
  return `${type.replace(/^aws_/, '')}\n${name}`;
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
      label: shortLabel(d.type, d.address),
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

/** big: above FORCE_LAYOUT_MAX nodes (bigElements) only containers,
 * drifted, found and focused nodes, and when zoomed in those in view
 * (class lbl, CyGraph), are labelled (measuring thousands of labels makes the first
 * frame take seconds, and at the zoom that shows them all none is legible). */
export function graphStyle(dark: boolean, big = false) {
  const fg = dark ? '#e9ecef' : '#212529';
  const muted = dark ? '#495057' : '#ced4da';
  const text = { label: 'data(label)', 'font-size': 12, color: fg, 'text-valign': 'bottom', 'text-margin-y': 3, 'min-zoomed-font-size': 6, 'text-wrap': 'wrap', 'text-max-width': 400 };
  const shape = { 'background-color': dark ? '#868e96' : '#adb5bd', width: 18, height: 18 };
  return [
    // big: each property an element gets costs a restyle of it and its
    // edges, so unlabelled nodes get no text properties at all
    big
      ? { selector: 'node', style: { ...shape, label: '' } }
      : { selector: 'node', style: { ...shape, ...text } },
    ...(big
      ? [{ selector: 'node.box, node.lbl, node.focus, node.match, node.blast, node[drift_count > 0]', style: { ...text, 'font-size': 9 } }]
      : []),
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
    ...(big
      ? [
          // containers drawn as plain rectangles (bigElements), under what
          // they hold: added first, outermost first, so drawn first
          {
            selector: 'node.box',
            style: {
              shape: 'rectangle',
              width: 'data(w)',
              height: 'data(h)',
              'background-opacity': dark ? 0.12 : 0.06,
              'background-color': dark ? '#74c0fc' : '#1c7ed6',
              'border-width': 1,
              'border-color': dark ? '#74c0fc' : '#1971c2',
              'text-valign': 'top',
              'text-halign': 'center',
              'font-size': 'data(fs)',
              'text-margin-y': 'data(tm)',
              'font-weight': 'bold',
            },
          },
          { selector: 'node.box[kind = "vpc"]', style: { 'border-style': 'dashed', 'border-width': 2 } },
        ]
      : []),
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

export interface Box {
  x: number; // centre
  y: number;
  w: number;
  h: number;
  depth: number; // 0: top-level container
  fs: number; // its label's font size, readable when the box fills the view
  title: number; // the strip at the top that holds the label
}

/** Positions for a big compound graph without a force layout: every
 * container's children are shelf-packed into rows (containers and leaves
 * alike), recursively, and the top level the same way.  Linear in the
 * number of nodes, so 5,000 nodes take milliseconds where fcose takes
 * minutes on a small machine.  Leaves get a centre (pos); containers get
 * the box that holds their children (boxes), so they can be drawn as plain
 * rectangles under them (bigElements). */
export function packedLayout(nodes: { data: { id: string; parent?: string } }[], aspect = 1.7): { pos: Map<string, { x: number; y: number }>; boxes: Map<string, Box> } {
  const LEAF_W = 110, LEAF_H = 64, PAD = 24, GAP = 16;
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
  type Packed = { w: number; h: number; fs?: number; title?: number; place: { id: string; x: number; y: number }[] };
  const boxOf = new Map<string, Packed>();
  // pack ids (their boxes known) into rows about as wide as the whole is tall
  const pack = (ids: string[], ratio = 1.7): Packed => {
    const sized = ids.map((id) => ({ id, b: boxOf.get(id) ?? { w: LEAF_W, h: LEAF_H, place: [] } }));
    sized.sort((a, b) => b.b.h - a.b.h); // tall first: tidier shelves
    const area = sized.reduce((s, x) => s + (x.b.w + GAP) * (x.b.h + GAP), 0);
    const rowW = Math.max(LEAF_W, Math.sqrt(area * ratio));
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
    const w = b.w + 2 * PAD;
    const fs = Math.round(Math.min(160, Math.max(11, w / 18)));
    const title = Math.round(fs * 1.3) + 4;
    boxOf.set(id, { w, h: b.h + 2 * PAD + title, fs, title, place: b.place });
  }
  const pos = new Map<string, { x: number; y: number }>();
  const boxes = new Map<string, Box>();
  const assign = (id: string, x: number, y: number, depth: number) => {
    const b = boxOf.get(id);
    if (!b || !kids.has(id)) {
      pos.set(id, { x: x + LEAF_W / 2, y: y + LEAF_H / 2 });
      return;
    }
    const title = b.title ?? 0;
    boxes.set(id, { x: x + b.w / 2, y: y + b.h / 2, w: b.w, h: b.h, depth, fs: b.fs ?? 11, title });
    for (const p of b.place) assign(p.id, x + PAD + p.x, y + PAD + title + p.y, depth + 1);
  };
  const root = pack(top, aspect); // the top level: as wide as the view
  for (const p of root.place) assign(p.id, p.x, p.y, 0);
  return { pos, boxes };
}

/** A big graph as plain elements: containers become rectangles sized to
 * their packed box, drawn under their children (z-index by depth), with
 * their container kept as data (`in`) instead of a Cytoscape parent.
 * Compound nodes make Cytoscape restyle every descendant, parent and edge
 * of an element for each style property it sets, which is seconds at 5,000
 * nodes; plain nodes cost one restyle each.  Edges from an element to a
 * container it sits in say what the nesting already shows, and are about
 * half of all: they are left out of the elements, and the blast radius
 * follows them through `dependents` instead. */
export function bigElements(nodes: { data: NodeData }[], edges: { data: { id?: string; source: string; target: string } }[], aspect = 1.7) {
  const { pos, boxes } = packedLayout(nodes, aspect);
  const parentOf = new Map<string, string>();
  for (const n of nodes) if (n.data.parent) parentOf.set(n.data.id, n.data.parent);
  const inside = (id: string, container: string) => {
    for (let p = parentOf.get(id); p; p = parentOf.get(p)) if (p === container) return true;
    return false;
  };
  const ns = nodes.map((n) => {
    const { parent, ...data } = n.data;
    const b = boxes.get(n.data.id);
    if (b)
      return { group: 'nodes' as const, data: { ...data, label: data.address.split('.').slice(-2).join('.'), in: parent, w: b.w, h: b.h, fs: b.fs, tm: Math.round(b.fs * 1.15) + 6 }, position: { x: b.x, y: b.y }, classes: 'box', depth: b.depth };
    return { group: 'nodes' as const, data: { ...data, in: parent }, position: pos.get(n.data.id) ?? { x: 0, y: 0 }, depth: 1e9 };
  });
  // draw order: Cytoscape draws nodes of equal z-index in the order added
  ns.sort((a, b) => a.depth - b.depth);
  const es = edges
    .filter((e) => !inside(e.data.source, e.data.target) && !inside(e.data.target, e.data.source))
    .map((e) => ({ group: 'edges' as const, data: e.data }));
  // what depends on a node, transitively, over every edge (inner ones too)
  const rev = new Map<string, string[]>();
  for (const e of edges) {
    const l = rev.get(e.data.target);
    if (l) l.push(e.data.source);
    else rev.set(e.data.target, [e.data.source]);
  }
  const dependents = (id: string): Set<string> => {
    const out = new Set<string>();
    const todo = [id];
    while (todo.length)
      for (const s of rev.get(todo.pop()!) ?? [])
        if (s !== id && !out.has(s)) {
          out.add(s);
          todo.push(s);
        }
    return out;
  };
  // the extent, for a fit that measures nothing
  let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
  for (const q of pos.values()) {
    x1 = Math.min(x1, q.x - 55);
    y1 = Math.min(y1, q.y - 32);
    x2 = Math.max(x2, q.x + 55);
    y2 = Math.max(y2, q.y + 32);
  }
  for (const b of boxes.values()) {
    x1 = Math.min(x1, b.x - b.w / 2);
    y1 = Math.min(y1, b.y - b.h / 2 - 16);
    x2 = Math.max(x2, b.x + b.w / 2);
    y2 = Math.max(y2, b.y + b.h / 2);
  }
  const out = ns.map((n) => ({ group: n.group, data: n.data, position: n.position, classes: 'classes' in n ? n.classes : undefined }));
  return { nodes: out, edges: es, extent: { x1, y1, x2, y2 }, dependents };
}
