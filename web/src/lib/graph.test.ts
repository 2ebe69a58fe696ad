import { describe, expect, it } from 'vitest';
import { layoutGraph } from './graph';

const t = (sequence: number, ...depends_on: number[]) => ({ sequence, depends_on });

describe('layoutGraph', () => {
  it('places tasks one column right of their deepest dependency', () => {
    const g = layoutGraph([t(1), t(2, 1), t(3, 1), t(4, 2, 3), t(5)], { nodeWidth: 100, nodeHeight: 40, gapX: 20, gapY: 10 });
    const layers = Object.fromEntries(g.nodes.map((n) => [n.task.sequence, [n.layer, n.row]]));
    expect(layers).toEqual({ 1: [0, 0], 2: [1, 0], 3: [1, 1], 4: [2, 0], 5: [0, 1] });
    expect(g.width).toBe(3 * 100 + 2 * 20);
    expect(g.height).toBe(2 * 40 + 10);
    expect(g.edges.map((e) => `${e.from}->${e.to}`).sort()).toEqual(['1->2', '1->3', '2->4', '3->4']);
    expect(g.edges[0]?.path.startsWith('M100,20')).toBe(true);
    expect(g.cyclic).toBe(false);
    expect(g.missing).toEqual([]);
  });

  it('uses the longest chain, not the first dependency', () => {
    const g = layoutGraph([t(1), t(2, 1), t(3, 2), t(4, 1, 3)]);
    expect(g.nodes.find((n) => n.task.sequence === 4)?.layer).toBe(3);
  });

  it('reports unknown dependencies and survives cycles', () => {
    const g = layoutGraph([t(1, 9), t(2, 3), t(3, 2), t(4, 4)]);
    expect(g.missing).toEqual([{ task: 1, dependsOn: 9 }]);
    expect(g.cyclic).toBe(true);
    expect(g.nodes).toHaveLength(4);
  });

  it('is empty for no tasks', () => {
    const g = layoutGraph([]);
    expect(g).toMatchObject({ nodes: [], edges: [], width: 0, height: 0 });
  });
});
