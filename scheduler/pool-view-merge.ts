/**
 * One operator view from the views of several gateway workers (each routes with pools of its
 * own): counts add up, a weight is the mean over the workers that have the node, and a node is
 * `ejected` or `draining` if any worker sees it so (the worst state shows).
 */
import type { PoolMemberView, PoolView } from './pool.js';

const STATE_RANK: Record<PoolMemberView['state'], number> = { ready: 0, draining: 1, ejected: 2 };

export function mergePoolViews(parts: readonly PoolView[][]): PoolView[] {
  const pools = new Map<string, { pool: PoolView; nodes: Map<string, { node: PoolMemberView; seen: number }> }>();
  for (const part of parts) {
    for (const pool of part) {
      const key = `${pool.model}\0${pool.version}`;
      let merged = pools.get(key);
      if (!merged) {
        merged = { pool: { ...pool, nodes: [] }, nodes: new Map() };
        pools.set(key, merged);
      }
      for (const node of pool.nodes) {
        const known = merged.nodes.get(node.id);
        if (!known) {
          merged.nodes.set(node.id, { node: { ...node }, seen: 1 });
          continue;
        }
        const n = known.node;
        n.weight = (n.weight * known.seen + node.weight) / (known.seen + 1);
        known.seen++;
        n.in_flight += node.in_flight;
        n.requests += node.requests;
        n.failures += node.failures;
        if (STATE_RANK[node.state] > STATE_RANK[n.state]) n.state = node.state;
      }
    }
  }
  return [...pools.values()]
    .map(({ pool, nodes }) => ({ ...pool, nodes: [...nodes.values()].map((n) => n.node) }))
    .sort((a, b) => a.model.localeCompare(b.model) || Number(a.version) - Number(b.version));
}
