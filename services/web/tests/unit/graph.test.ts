import { describe, expect, it } from 'vitest';
import { bigElements, packedLayout, type NodeData } from '../../src/features/graph/elements';

const node = (id: string, parent?: string): { data: NodeData } => ({
  data: { id, label: id, address: id, workspace: 'w', type: 't', parent, drift_count: 0, worst_severity: null, kind: 'resource' },
});

// vpc ⊃ subnet ⊃ i1, i2; vpc ⊃ sg; lone outside
const nodes = [node('vpc'), node('subnet', 'vpc'), node('i1', 'subnet'), node('i2', 'subnet'), node('sg', 'vpc'), node('lone')];
const edges = [
  { data: { id: 'e1', source: 'i1', target: 'subnet' } }, // inside its container
  { data: { id: 'e2', source: 'i1', target: 'sg' } },
  { data: { id: 'e3', source: 'subnet', target: 'vpc' } }, // inside its container
  { data: { id: 'e4', source: 'lone', target: 'i2' } },
];

describe('packedLayout', () => {
  it('puts every leaf inside each of its containers, and sibling boxes apart', () => {
    const { pos, boxes } = packedLayout(nodes);
    expect([...pos.keys()].sort()).toEqual(['i1', 'i2', 'lone', 'sg']);
    expect([...boxes.keys()].sort()).toEqual(['subnet', 'vpc']);
    const within = (p: { x: number; y: number }, b: { x: number; y: number; w: number; h: number }) =>
      Math.abs(p.x - b.x) < b.w / 2 && Math.abs(p.y - b.y) < b.h / 2;
    for (const leaf of ['i1', 'i2']) {
      expect(within(pos.get(leaf)!, boxes.get('subnet')!)).toBe(true);
      expect(within(pos.get(leaf)!, boxes.get('vpc')!)).toBe(true);
    }
    expect(within(pos.get('sg')!, boxes.get('vpc')!)).toBe(true);
    expect(within(pos.get('sg')!, boxes.get('subnet')!)).toBe(false);
    expect(within(pos.get('lone')!, boxes.get('vpc')!)).toBe(false);
    expect(boxes.get('vpc')!.depth).toBe(0);
    expect(boxes.get('subnet')!.depth).toBe(1);
  });

  it('is deterministic at 5,000 nodes', () => {
    const many = [node('v')];
    for (let s = 0; s < 200; s++) many.push(node(`s${s}`, 'v'));
    for (let i = 0; i < 4800; i++) many.push(node(`i${i}`, `s${i % 200}`));
    const a = packedLayout(many);
    expect(a.pos.size).toBe(4800);
    expect(packedLayout(many).pos.get('i77')).toEqual(a.pos.get('i77'));
  });
});

describe('bigElements', () => {
  const big = bigElements(nodes, edges);
  it('draws containers as plain boxes, first, outermost first', () => {
    expect(big.nodes.map((n) => n.data.id).slice(0, 2)).toEqual(['vpc', 'subnet']);
    expect(big.nodes.every((n) => !('parent' in n.data))).toBe(true);
    expect(big.nodes.find((n) => n.data.id === 'i1')!.data.in).toBe('subnet');
    expect(big.nodes.find((n) => n.data.id === 'vpc')!.classes).toBe('box');
  });
  it('leaves out edges into a container the source sits in', () => {
    expect(big.edges.map((e) => e.data.id).sort()).toEqual(['e2', 'e4']);
  });
  it('follows every edge for the blast radius', () => {
    expect([...big.dependents('vpc')].sort()).toEqual(['i1', 'subnet']);
    expect([...big.dependents('i2')]).toEqual(['lone']);
  });
});
