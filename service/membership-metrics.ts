/**
 * The membership source's health as metrics: whether this gateway routes on a stale view (etcd out
 * of reach) and how many nodes that view holds. Read at scrape time, nothing to keep in step.
 */
import { Gauge, type Registry } from 'prom-client';
import type { MembershipStatus } from '../scheduler/membership.js';

export function registerMembershipMetrics(registry: Registry, status: () => MembershipStatus): void {
  new Gauge({
    name: 'infergate_membership_stale',
    help: '1 while the membership source does not answer and the gateway routes on its last view (static stability), else 0',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      const s = status();
      this.reset();
      this.set({ source: s.source }, s.state === 'live' ? 0 : 1);
    },
  });
  new Gauge({
    name: 'infergate_membership_nodes',
    help: 'Nodes in the gateway\'s membership view',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      const s = status();
      this.reset();
      this.set({ source: s.source }, s.nodes);
    },
  });
}
