import { describeCycle, type Anomaly, type AnomalyType, type CycleStep, type EdgeKind } from './anomaly.js';
import type { DependencyGraph, EdgeLabel } from './dependency-graph.js';
import { stronglyConnectedComponents } from './tarjan.js';

/** Dependency edges: write-write and write-read. Anti-dependencies (rw) are the rest. */
const DEPENDENCY: readonly EdgeKind[] = ['ww', 'wr'];
const ANY: readonly EdgeKind[] = ['ww', 'wr', 'rw'];

/**
 * Finds the dependency cycles of a history and names them. Every cycle lies
 * within one strongly connected component of the graph, so each component
 * is searched on its own, most severe kind first:
 *
 * - G0: a cycle of ww edges;
 * - G1c: a cycle of ww and wr edges (with a wr);
 * - G-single: a cycle with exactly one rw edge;
 * - G-nonadjacent: a cycle whose rw edges are never adjacent;
 * - G2-item: none of the above; every cycle has two adjacent rw edges.
 *
 * Serializability forbids every cycle. Snapshot isolation forbids all but
 * G2-item: a history is SI iff the relation (ww ∪ wr) ; rw? is acyclic
 * (Cerone & Gotsman 2016; Fekete et al. 2005's "dangerous structure" is the
 * adjacent rw pair). G0, G1c and G-single cycles are cycles of that relation
 * too, so G-nonadjacent is searched only where they were not found.
 */
export function findCycles(graph: DependencyGraph): Anomaly[] {
  const anomalies: Anomaly[] = [];
  for (const component of stronglyConnectedComponents(graph.nodes(), (n) => graph.successors(n))) {
    if (component.length < 2) continue;
    const members = new Set(component);
    const severe = [...dependencyCycles(graph, members), ...singleAntiDependencyCycle(graph, members)];
    if (severe.length > 0) {
      anomalies.push(...severe.map(toAnomaly));
      continue;
    }
    const cycle = nonadjacentCycle(graph, members) ?? anyCycle(graph, members);
    anomalies.push(toAnomaly(cycle));
  }
  return anomalies;
}

/** How bad a cycle is, from the kinds of its edges. */
export function classifyCycle(cycle: readonly CycleStep[]): AnomalyType {
  const rw = cycle.filter((s) => s.kind === 'rw').length;
  if (rw === 0) return cycle.every((s) => s.kind === 'ww') ? 'G0' : 'G1c';
  if (rw === 1) return 'G-single';
  const adjacentPair = cycle.some((s, i) => s.kind === 'rw' && cycle[(i + 1) % cycle.length]!.kind === 'rw');
  return adjacentPair ? 'G2-item' : 'G-nonadjacent';
}

function toAnomaly(cycle: CycleStep[]): Anomaly {
  const type = classifyCycle(cycle);
  return { type, txns: [...new Set(cycle.map((s) => s.from))], cycle, description: `${type}: ${describeCycle(cycle)}` };
}

/**
 * G0 cycles, one per component of the ww edges; then G1c cycles, one per
 * component of the ww and wr edges that holds a wr edge without ww (a
 * component whose every edge is ww is G0 only).
 */
function dependencyCycles(graph: DependencyGraph, members: ReadonlySet<number>): CycleStep[][] {
  return [
    ...cyclesPerComponent(graph, members, ['ww'], (label) => label.ww !== undefined),
    ...cyclesPerComponent(graph, members, DEPENDENCY, (label) => label.wr !== undefined && label.ww === undefined),
  ];
}

/** In each component of the `kinds` edges within `members`: a cycle through the first edge `closes` accepts. */
function cyclesPerComponent(
  graph: DependencyGraph,
  members: ReadonlySet<number>,
  kinds: readonly EdgeKind[],
  closes: (label: EdgeLabel) => boolean,
): CycleStep[][] {
  const cycles: CycleStep[][] = [];
  const within = (n: number) => [...graph.successors(n, kinds)].filter((m) => members.has(m));
  for (const component of stronglyConnectedComponents(members, within)) {
    if (component.length < 2) continue;
    const componentMembers = new Set(component);
    const closing = findEdge(graph, componentMembers, closes);
    if (!closing) continue;
    const back = shortestPath(graph, closing.to, closing.from, kinds, componentMembers);
    if (back) cycles.push(toSteps(graph, [closing.from, ...back], kinds));
  }
  return cycles;
}

/** A cycle closed by one rw-only edge u → v, with v reaching u over ww/wr edges. */
function singleAntiDependencyCycle(graph: DependencyGraph, members: ReadonlySet<number>): CycleStep[][] {
  for (const from of members) {
    for (const to of graph.successors(from, ['rw'])) {
      const label = graph.label(from, to)!;
      if (!members.has(to) || label.ww !== undefined || label.wr !== undefined) continue;
      const back = shortestPath(graph, to, from, DEPENDENCY, members);
      if (back) return [[{ from, to, kind: 'rw', key: label.rw! }, ...toSteps(graph, back, DEPENDENCY)]];
    }
  }
  return [];
}

/**
 * A cycle of the relation (ww ∪ wr) ; rw?: each step is a dependency edge,
 * optionally followed by one rw edge. Expanded back into graph edges it has
 * no two adjacent rw edges.
 */
function nonadjacentCycle(graph: DependencyGraph, members: ReadonlySet<number>): CycleStep[] | undefined {
  const steps = (a: number): { to: number; via?: number }[] => {
    const out: { to: number; via?: number }[] = [];
    for (const b of graph.successors(a, DEPENDENCY)) {
      if (!members.has(b)) continue;
      out.push({ to: b });
      for (const c of graph.successors(b, ['rw'])) if (members.has(c)) out.push({ to: c, via: b });
    }
    return out;
  };
  for (const sub of stronglyConnectedComponents(members, (a) => steps(a).map((s) => s.to))) {
    const start = sub[0]!;
    const selfLoop = steps(start).find((s) => s.to === start);
    if (sub.length < 2 && !selfLoop) continue;
    const subMembers = new Set(sub);
    // Breadth-first over the composed relation from `start` back to itself.
    const parent = new Map<number, { from: number; via?: number }>();
    const queue = [start];
    let closing: { from: number; via?: number } | undefined;
    while (queue.length > 0 && !closing) {
      const a = queue.shift()!;
      for (const s of steps(a)) {
        if (!subMembers.has(s.to)) continue;
        if (s.to === start) {
          closing = { from: a, ...(s.via !== undefined ? { via: s.via } : {}) };
          break;
        }
        if (parent.has(s.to)) continue;
        parent.set(s.to, { from: a, ...(s.via !== undefined ? { via: s.via } : {}) });
        queue.push(s.to);
      }
    }
    if (!closing) continue;
    const composed: { from: number; to: number; via?: number }[] = [{ ...closing, to: start }];
    for (let node = closing.from; node !== start; ) {
      const p = parent.get(node)!;
      composed.unshift({ ...p, to: node });
      node = p.from;
    }
    return composed.flatMap(({ from, to, via }) =>
      via === undefined
        ? [step(graph, from, to, DEPENDENCY)]
        : [step(graph, from, via, DEPENDENCY), { from: via, to, kind: 'rw' as const, key: graph.label(via, to)!.rw! }],
    );
  }
  return undefined;
}

function anyCycle(graph: DependencyGraph, members: ReadonlySet<number>): CycleStep[] {
  const closing = findEdge(graph, members, () => true)!;
  const back = shortestPath(graph, closing.to, closing.from, ANY, members)!;
  return toSteps(graph, [closing.from, ...back], ANY);
}

function findEdge(
  graph: DependencyGraph,
  members: ReadonlySet<number>,
  accept: (label: EdgeLabel) => boolean,
): { from: number; to: number } | undefined {
  for (const from of members) {
    for (const to of graph.successors(from)) {
      if (members.has(to) && accept(graph.label(from, to)!)) return { from, to };
    }
  }
  return undefined;
}

/** Nodes of a shortest path from `from` to `to` (both included) over `kinds`, staying within `members`. */
function shortestPath(
  graph: DependencyGraph,
  from: number,
  to: number,
  kinds: readonly EdgeKind[],
  members: ReadonlySet<number>,
): number[] | undefined {
  const parent = new Map<number, number>([[from, from]]);
  const queue = [from];
  while (queue.length > 0) {
    const node = queue.shift()!;
    if (node === to) break;
    for (const next of graph.successors(node, kinds)) {
      if (!members.has(next) || parent.has(next)) continue;
      parent.set(next, node);
      queue.push(next);
    }
  }
  if (!parent.has(to)) return undefined;
  const path = [to];
  while (path[0] !== from) path.unshift(parent.get(path[0]!)!);
  return path;
}

/** Turns a closed path (last node links back to the first) or an open one into steps. */
function toSteps(graph: DependencyGraph, nodes: readonly number[], kinds: readonly EdgeKind[]): CycleStep[] {
  const steps: CycleStep[] = [];
  for (let i = 0; i + 1 < nodes.length; i += 1) steps.push(step(graph, nodes[i]!, nodes[i + 1]!, kinds));
  return steps;
}

/** The edge from → to, named by its least anti-dependent kind among `kinds` (ww, then wr, then rw). */
function step(graph: DependencyGraph, from: number, to: number, kinds: readonly EdgeKind[]): CycleStep {
  const label = graph.label(from, to)!;
  const kind = (['ww', 'wr', 'rw'] as const).find((k) => kinds.includes(k) && label[k] !== undefined)!;
  return { from, to, kind, key: label[kind]! };
}
