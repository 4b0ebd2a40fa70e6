/** Builds this node's load report from its host's meter; each call closes one window. */
import type { CardReport, LoadReport, NodeState } from '../core/load-report.js';
import { loadWindow, type LoadCounters } from './load-meter.js';
import type { ModelHost } from './model-host.js';

export interface NodeIdentity {
  nodeId: string;
  url: string;
  /** Where gateways reach the node's gRPC door (advertisedGrpcUrl); undefined when it has none. */
  grpcUrl?: string;
  cards: CardReport[];
}

/** The gRPC address gateways use: the host they reach the node's HTTP door by, with the bound gRPC port. */
export function advertisedGrpcUrl(advertisedHttpUrl: string, grpcPort: number): string {
  return `grpc://${new URL(advertisedHttpUrl).hostname}:${grpcPort}`;
}

export class LoadReporter {
  #previous: LoadCounters;
  state: NodeState = 'ready';
  #last?: LoadReport;

  constructor(private readonly host: ModelHost, private readonly identity: NodeIdentity) {
    this.#previous = host.meter.snapshot();
  }

  build(): LoadReport {
    const counters = this.host.meter.snapshot();
    const window = loadWindow(this.#previous, counters, this.host.slots);
    this.#previous = counters;
    this.#last = {
      nodeId: this.identity.nodeId,
      url: this.identity.url,
      ...(this.identity.grpcUrl !== undefined ? { grpcUrl: this.identity.grpcUrl } : {}),
      state: this.state,
      cards: this.identity.cards,
      inFlight: this.host.meter.inFlight,
      queueDepth: this.host.meter.queueDepth,
      slots: this.host.slots,
      ...window,
      models: this.host.models().map((m) => ({ name: m.metadata.name, versions: [...m.executors.keys()] })),
      sentAtMs: Date.now(),
    };
    return this.#last;
  }

  /** The last report sent, for the node's own operator view. */
  last(): LoadReport | undefined {
    return this.#last;
  }
}
