import { describe, expect, it } from 'vitest';
import type { PoolMemberView, PoolView } from '../../scheduler/pool.js';
import { mergePoolViews } from '../../scheduler/pool-view-merge.js';

const node = (id: string, over: Partial<PoolMemberView> = {}): PoolMemberView => ({
  id, url: `http://${id}`, state: 'ready', weight: 1, capacity: 1, in_flight: 0, requests: 0, failures: 0, breaker: 'closed', ...over,
});
const pool = (model: string, nodes: PoolMemberView[], version = '1'): PoolView => ({ model, version, policy: 'capacity', nodes });

describe('mergePoolViews', () => {
  it('shows the worst breaker state of any worker and the longest hold-off', () => {
    const merged = mergePoolViews([
      [pool('m', [node('a', { breaker: 'half_open' }), node('b')])],
      [pool('m', [node('a', { breaker: 'open' }), node('b', { hold_off_ms: 900 })])],
      [pool('m', [node('a'), node('b', { hold_off_ms: 300 })])],
    ]);
    expect(merged[0].nodes.map((n) => [n.id, n.breaker, n.hold_off_ms])).toEqual([['a', 'open', undefined], ['b', 'closed', 900]]);
  });

  it('adds counts, averages weights, shows the worst state, keeps nodes only one worker has', () => {
    const merged = mergePoolViews([
      [pool('m', [node('a', { weight: 2, in_flight: 1, requests: 10, failures: 1 }), node('b', { requests: 3 })])],
      [pool('m', [node('a', { weight: 4, in_flight: 2, requests: 5, state: 'ejected' })]), pool('k', [node('c')], '2')],
    ]);
    expect(merged).toEqual([
      pool('k', [node('c')], '2'),
      pool('m', [node('a', { weight: 3, in_flight: 3, requests: 15, failures: 1, state: 'ejected' }), node('b', { requests: 3 })]),
    ]);
  });

  it('averages a weight over every worker that has the node, and leaves its inputs alone', () => {
    const parts = [[pool('m', [node('a', { weight: 1 })])], [pool('m', [node('a', { weight: 2 })])], [pool('m', [node('a', { weight: 6 })])]];
    expect(mergePoolViews(parts)[0].nodes[0].weight).toBe(3);
    expect(parts[0][0].nodes[0].weight).toBe(1);
    expect(mergePoolViews([])).toEqual([]);
  });
});
