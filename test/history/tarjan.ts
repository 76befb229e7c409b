/**
 * Tarjan's strongly connected components, iterative (histories have
 * thousands of transactions; recursion would overflow the stack).
 * Returns every component, singletons included, in reverse topological order.
 */
export function stronglyConnectedComponents(nodes: Iterable<number>, successors: (node: number) => Iterable<number>): number[][] {
  const index = new Map<number, number>();
  const lowLink = new Map<number, number>();
  const onStack = new Set<number>();
  const stack: number[] = [];
  const components: number[][] = [];
  let nextIndex = 0;

  for (const root of nodes) {
    if (index.has(root)) continue;
    // Each frame: a node and the iterator over its remaining successors.
    const frames: { node: number; next: Iterator<number> }[] = [];
    const visit = (node: number): void => {
      index.set(node, nextIndex);
      lowLink.set(node, nextIndex);
      nextIndex += 1;
      stack.push(node);
      onStack.add(node);
      frames.push({ node, next: successors(node)[Symbol.iterator]() });
    };
    visit(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1]!;
      const step = frame.next.next();
      if (!step.done) {
        const to = step.value;
        if (!index.has(to)) visit(to);
        else if (onStack.has(to)) lowLink.set(frame.node, Math.min(lowLink.get(frame.node)!, index.get(to)!));
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent) lowLink.set(parent.node, Math.min(lowLink.get(parent.node)!, lowLink.get(frame.node)!));
      if (lowLink.get(frame.node) === index.get(frame.node)) {
        const component: number[] = [];
        let member: number;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        components.push(component);
      }
    }
  }
  return components;
}
