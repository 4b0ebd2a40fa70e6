/**
 * One operator view from the views of several gateway workers (each routes with pools of its
 * own): counts add up, a weight is the mean over the workers that have the node, and a node is
 * `ejected` or `draining` if any worker sees it so (the worst state shows), and so is its breaker.
 */
import type { PoolMemberView, PoolView } from './pool.js';

const STATE_RANK: Record<PoolMemberView['state'], number> = { ready: 0, draining: 1, ejected: 2 };
const BREAKER_RANK: Record<PoolMemberView['breaker'], number> = { closed: 0, half_open: 1, open: 2 };

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
        // Each worker has its own breaker per node: the worst shows, and the longest hold-off.
        if (BREAKER_RANK[node.breaker] > BREAKER_RANK[n.breaker]) n.breaker = node.breaker;
        if (node.hold_off_ms !== undefined) n.hold_off_ms = Math.max(n.hold_off_ms ?? 0, node.hold_off_ms);
      }
    }
  }
  return [...pools.values()]
    .map(({ pool, nodes }) => ({ ...pool, nodes: [...nodes.values()].map((n) => n.node) }))
    .sort((a, b) => a.model.localeCompare(b.model) || Number(a.version) - Number(b.version));
}
