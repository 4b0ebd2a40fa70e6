/**
 * Refused node registrations (core/node-signature.ts) as a counter, by where the message came from
 * (a heartbeat or leave POST, an etcd record) and why; and a log that names the node and the reason,
 * never the secret, without a line per message when a misconfigured node keeps beating.
 */
import { Counter, type Registry } from 'prom-client';
import type { SignatureRefusal } from '../core/node-signature.js';

export type RefusalSource = 'heartbeat' | 'etcd';

export type RefusalCounter = (source: RefusalSource, reason: SignatureRefusal, who: string | undefined) => void;

/** `log` gets the 1st, 10th, 100th… refusal of each (source, node, reason). */
export function registerNodeAuthMetrics(registry: Registry, log?: (message: string) => void): RefusalCounter {
  const counter = new Counter({
    name: 'infergate_node_registration_refused_total',
    help: 'Heartbeats, leave messages and etcd records refused for a missing, wrong, stale or replayed node signature',
    labelNames: ['source', 'reason'],
    registers: [registry],
  });
  const seen = new Map<string, number>();
  return (source, reason, who) => {
    counter.inc({ source, reason });
    if (!log) return;
    const key = `${source}\0${who ?? ''}\0${reason}`;
    const times = (seen.get(key) ?? 0) + 1;
    // Bounded: a flood of made-up node ids must not grow this map without end.
    if (seen.size < 10_000 || seen.has(key)) seen.set(key, times);
    if (Number.isInteger(Math.log10(times))) log(`node registration refused (${source}, ${reason}) from node '${who ?? 'unnamed'}'${times > 1 ? `, ${times} times so far` : ''}`);
  };
}
