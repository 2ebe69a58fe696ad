// Layout of a plan's task dependency graph: tasks in columns by dependency depth.

export interface GraphTask {
  sequence: number;
  depends_on: readonly number[];
}

export interface GraphNode<T> {
  task: T;
  layer: number;
  row: number;
  x: number;
  y: number;
}

export interface GraphEdge {
  from: number;
  to: number;
  /** SVG path from the dependency's right edge to the dependent's left edge. */
  path: string;
}

export interface GraphLayout<T> {
  nodes: GraphNode<T>[];
  edges: GraphEdge[];
  width: number;
  height: number;
  /** Dependencies naming a sequence that is not in the plan. */
  missing: { task: number; dependsOn: number }[];
  /** Whether the dependencies contain a cycle (the plan validator should prevent it). */
  cyclic: boolean;
}

export interface LayoutOptions {
  nodeWidth?: number;
  nodeHeight?: number;
  gapX?: number;
  gapY?: number;
}

/**
 * Columns by longest dependency chain: a task sits one column right of its deepest
 * dependency. Within a column tasks keep plan order.
 */
export function layoutGraph<T extends GraphTask>(tasks: readonly T[], opts: LayoutOptions = {}): GraphLayout<T> {
  const w = opts.nodeWidth ?? 176;
  const h = opts.nodeHeight ?? 48;
  const gx = opts.gapX ?? 48;
  const gy = opts.gapY ?? 16;
  const bySeq = new Map(tasks.map((t) => [t.sequence, t]));
  const missing: { task: number; dependsOn: number }[] = [];
  for (const t of tasks) {
    for (const d of t.depends_on) if (!bySeq.has(d)) missing.push({ task: t.sequence, dependsOn: d });
  }

  const layer = new Map<number, number>();
  const visiting = new Set<number>();
  let cyclic = false;
  const depth = (seq: number): number => {
    const known = layer.get(seq);
    if (known !== undefined) return known;
    if (visiting.has(seq)) {
      cyclic = true;
      return 0;
    }
    visiting.add(seq);
    const t = bySeq.get(seq);
    let d = 0;
    for (const dep of t?.depends_on ?? []) {
      if (dep !== seq && bySeq.has(dep)) d = Math.max(d, depth(dep) + 1);
      else if (dep === seq) cyclic = true;
    }
    visiting.delete(seq);
    layer.set(seq, d);
    return d;
  };
  const ordered = [...tasks].sort((a, b) => a.sequence - b.sequence);
  for (const t of ordered) depth(t.sequence);

  const rows = new Map<number, number>();
  const nodes: GraphNode<T>[] = ordered.map((task) => {
    const l = layer.get(task.sequence) ?? 0;
    const row = rows.get(l) ?? 0;
    rows.set(l, row + 1);
    return { task, layer: l, row, x: l * (w + gx), y: row * (h + gy) };
  });
  const at = new Map(nodes.map((n) => [n.task.sequence, n]));
  const edges: GraphEdge[] = [];
  for (const n of nodes) {
    for (const dep of new Set(n.task.depends_on)) {
      const from = at.get(dep);
      if (!from || dep === n.task.sequence) continue;
      const x1 = from.x + w;
      const y1 = from.y + h / 2;
      const x2 = n.x;
      const y2 = n.y + h / 2;
      const mx = (x1 + x2) / 2;
      edges.push({ from: dep, to: n.task.sequence, path: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` });
    }
  }
  const layers = nodes.length ? Math.max(...nodes.map((n) => n.layer)) + 1 : 0;
  const maxRows = rows.size ? Math.max(...rows.values()) : 0;
  return {
    nodes,
    edges,
    width: layers ? layers * w + (layers - 1) * gx : 0,
    height: maxRows ? maxRows * h + (maxRows - 1) * gy : 0,
    missing,
    cyclic,
  };
}
