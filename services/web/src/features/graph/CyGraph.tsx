// The one component that owns a Cytoscape instance.
import cytoscape, { type Core, type ElementDefinition } from 'cytoscape';
import fcose from 'cytoscape-fcose';
import { forwardRef, useEffect, useImperativeHandle, useRef } from 'react';
import type { DriftItem } from '../../lib/api';
import { bigElements, graphStyle, worse, type NodeData } from './elements';

cytoscape.use(fcose);

export interface CyHandle {
  fit: () => void;
  zoom: (factor: number) => void;
  png: () => string;
  cy: () => Core | null;
}

export interface CyGraphProps {
  elements: { nodes: ElementDefinition[]; edges: ElementDefinition[] };
  /** Changes when the element set is new (a new layout runs). */
  layoutKey: string;
  focus: string | null;
  search: string;
  dark: boolean;
  onNode: (id: string) => void;
  onLayout?: (ms: number, nodes: number) => void;
  label: string;
}

/** Above this many nodes the graph is packed (elements.ts) instead of fcose. */
export const FORCE_LAYOUT_MAX = 800;

function layoutFor(): cytoscape.LayoutOptions {
  // fcose handles compound nodes well at this size
  return {
    name: 'fcose',
    quality: 'default',
    randomize: true,
    animate: false,
    // labels are wider than the nodes: spaced by them, they do not overlap
    nodeDimensionsIncludeLabels: true,
    packComponents: true,
    numIter: 2500,
    // fcose's defaults: with labels in the node sizes the graph stays
    // compact enough that the fit zoom keeps them readable
    nodeRepulsion: 4500,
    idealEdgeLength: 50,
    nodeSeparation: 75,
    nestingFactor: 0.2,
    tile: true,
  } as cytoscape.LayoutOptions;
}

export const CyGraph = forwardRef<CyHandle, CyGraphProps>(function CyGraph(p, ref) {
  const box = useRef<HTMLDivElement>(null);
  const cyRef = useRef<Core | null>(null);
  const onNode = useRef(p.onNode);
  onNode.current = p.onNode;
  const onLayout = useRef(p.onLayout);
  onLayout.current = p.onLayout;
  // a big graph's blast radius (bigElements leaves some edges out of cy)
  const dependentsOf = useRef<((id: string) => Set<string>) | null>(null);

  useImperativeHandle(ref, () => ({
    fit: () => cyRef.current?.fit(undefined, 30),
    zoom: (f) => {
      const cy = cyRef.current;
      if (cy) cy.zoom({ level: cy.zoom() * f, renderedPosition: { x: cy.width() / 2, y: cy.height() / 2 } });
    },
    png: () => cyRef.current?.png({ full: true, bg: p.dark ? '#1a1b1e' : '#ffffff', maxWidth: 4000, maxHeight: 4000 }) ?? '',
    cy: () => cyRef.current,
  }));

  // create once
  useEffect(() => {
    const cy = cytoscape({
      container: box.current,
      style: graphStyle(p.dark) as never,
      textureOnViewport: true,
      hideEdgesOnViewport: true,
      motionBlur: false,
      pixelRatio: 1,
      minZoom: 0.02,
      maxZoom: 4,
      // dragging anywhere pans (nodes are not moved): a compound box is
      // most of the canvas, and moving one with its children is slow
      autoungrabify: true,
    });
    cy.on('tap', 'node', (e) => onNode.current(e.target.id()));
    // a big graph labels the nodes in view once zoomed in enough to read them
    let timer = 0;
    cy.on('viewport', () => {
      if (!dependentsOf.current) return;
      clearTimeout(timer);
      timer = window.setTimeout(() => labelInView(cy), 120);
    });
    cyRef.current = cy;
    (window as unknown as { __tfdriftCy?: Core }).__tfdriftCy = cy;
    // Cytoscape reads its container's size only on window resizes; the panel
    // below the graph, the split view's divider and the page's own layout
    // change it too (a fit with a stale size leaves part of the graph out)
    const ro = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(() => cy.resize());
    if (box.current) ro?.observe(box.current);
    return () => {
      ro?.disconnect();
      clearTimeout(timer);
      cy.destroy();
      cyRef.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    const cy = cyRef.current;
    cy?.style(graphStyle(p.dark, cy.nodes().length > FORCE_LAYOUT_MAX) as never);
  }, [p.dark]);

  // new element set: replace and lay out
  useEffect(() => {
    const cy = cyRef.current;
    if (!cy) return;
    const t0 = performance.now();
    const n = p.elements.nodes.length;
    cy.style(graphStyle(p.dark, n > FORCE_LAYOUT_MAX) as never);
    if (n > FORCE_LAYOUT_MAX) {
      // big: positions computed up front and added with the elements, no
      // layout pass; containers are plain boxes (bigElements says why)
      const big = bigElements(
        p.elements.nodes as { data: NodeData }[],
        p.elements.edges as { data: { source: string; target: string } }[],
        Math.max(1, cy.width() / Math.max(1, cy.height())),
      );
      const t1 = performance.now();
      dependentsOf.current = big.dependents;
      cy.batch(() => {
        cy.elements().remove();
        cy.add(big.nodes as ElementDefinition[]);
        cy.add(big.edges as ElementDefinition[]);
      });
      const t2 = performance.now();
      // fit from the extent we computed: cy.fit measures every label, seconds at this size
      cy.resize();
      const { x1, y1, x2, y2 } = big.extent;
      const w = x2 - x1 + 60, h = y2 - y1 + 60;
      const zoom = Math.min(cy.width() / w, cy.height() / h, 1.1);
      cy.viewport({ zoom, pan: { x: cy.width() / 2 - ((x1 + x2) / 2) * zoom, y: cy.height() / 2 - ((y1 + y2) / 2) * zoom } });
      // the phases, for bench/web.mjs (performance.getEntriesByType('measure'))
      performance.measure('graph:pack', { start: t0, end: t1 });
      performance.measure('graph:add', { start: t1, end: t2 });
      performance.measure('graph:fit', { start: t2, end: performance.now() });
      requestAnimationFrame(() => requestAnimationFrame(() => performance.measure('graph:drawn', { start: t0, end: performance.now() })));
      onLayout.current?.(performance.now() - t0, n);
      return;
    }
    dependentsOf.current = null;
    cy.batch(() => {
      cy.elements().remove();
      cy.add([...p.elements.nodes, ...p.elements.edges]);
    });
    if (n > 0) {
      const l = cy.layout(layoutFor());
      l.one('layoutstop', () => {
        cy.resize();
        cy.fit(undefined, 30);
        if (cy.zoom() > 1.1) {
          // a small graph: readable labels, not giant ones
          cy.zoom(1.1);
          cy.center();
        }
        onLayout.current?.(performance.now() - t0, n);
      });
      l.run();
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [p.layoutKey]);

  // focus: the node, its blast radius (what depends on it), centred
  useEffect(() => {
    const cy = cyRef.current;
    if (!cy) return;
    cy.batch(() => {
      cy.$('.focus, .blast, .dim').removeClass('focus blast dim'); // only those that have one: a restyle of every element costs seconds at 5,000 nodes
      if (!p.focus) return;
      const n = cy.getElementById(p.focus);
      if (n.empty()) return;
      const deps = dependentsOf.current;
      if (deps) {
        // big: the blast radius highlighted, nothing dimmed (a restyle of
        // every element is seconds at this size)
        const ids = deps(n.id());
        ids.add(n.id());
        const blast = cy.nodes().filter((x) => x !== n && ids.has(x.id()));
        const edges = blast.connectedEdges().filter((e) => ids.has(e.source().id()) && ids.has(e.target().id()));
        blast.union(edges).addClass('blast');
      } else {
        const dependents = n.predecessors();
        cy.elements().not(n).not(dependents).not(n.ancestors()).addClass('dim');
        dependents.addClass('blast');
      }
      n.addClass('focus');
    });
    const n = cy.getElementById(p.focus ?? '');
    if (n.nonempty()) cy.animate({ center: { eles: n }, zoom: Math.max(cy.zoom(), 0.8) }, { duration: 250 });
  }, [p.focus, p.layoutKey]);

  useEffect(() => {
    const cy = cyRef.current;
    if (!cy) return;
    const q = p.search.trim().toLowerCase();
    cy.batch(() => {
      cy.$('node.match').removeClass('match');
      if (!q) return;
      cy.nodes().filter((n) => n.id().toLowerCase().includes(q)).addClass('match');
    });
    const m = cy.nodes('.match');
    if (m.nonempty()) cy.fit(m, 60);
  }, [p.search, p.layoutKey]);

  return <div ref={box} className="cy" role="img" aria-label={p.label} />;
});

/** Big graphs: class lbl (a label) on the leaves in view when zoomed in
 * (at most a few hundred then), off everywhere when zoomed out. */
function labelInView(cy: Core) {
  const had = cy.nodes('.lbl');
  if (cy.zoom() < 0.45) {
    had.removeClass('lbl');
    return;
  }
  const e = cy.extent();
  const inView = cy.nodes().filter((n) => {
    if (n.hasClass('box')) return false;
    const q = n.position();
    return q.x >= e.x1 && q.x <= e.x2 && q.y >= e.y1 && q.y <= e.y2;
  });
  cy.batch(() => {
    had.difference(inView).removeClass('lbl');
    inView.difference(had).addClass('lbl');
  });
}

/** A live alert on a node: worse colour, one more drift, and red. */
export function markAlert(cy: Core, a: DriftItem): boolean {
  const n = cy.getElementById(`${a.workspace}:${a.resource_address}`);
  if (n.empty()) return false;
  n.data('worst_severity', worse(n.data('worst_severity') as string | null, a.severity));
  n.data('drift_count', ((n.data('drift_count') as number) ?? 0) + 1);
  n.addClass('flash');
  return true;
}
