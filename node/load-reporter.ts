/** Builds this node's load report from its host's meter; each call closes one window. */
import type { CalibrationReport, CardReport, LoadReport, NodeState } from '../core/load-report.js';
import type { Card } from '../adapters/card.js';
import { summarizeCards } from '../adapters/detect.js';
import { cardsAsRun, cpuCoefficientOf, instanceReports, unavailableReports } from './instance-report.js';
import { loadWindow, type LoadCounters } from './load-meter.js';
import type { ModelHost } from './model-host.js';

export interface NodeIdentity {
  nodeId: string;
  url: string;
  /** Where gateways reach the node's gRPC door (advertisedGrpcUrl); undefined when it has none. */
  grpcUrl?: string;
  cards: CardReport[];
  /**
   * The node's cards: when given, the reported cards are these weighted by what their instances
   * run on (instance-report.ts), instead of `cards`.
   */
  sourceCards?: Card[];
}

/**
 * The gRPC address gateways use: the host they reach the node's HTTP door by, with the bound gRPC
 * port; grpcs:// when that door is https:// (both doors take the same certificate).
 */
export function advertisedGrpcUrl(advertisedHttpUrl: string, grpcPort: number): string {
  const url = new URL(advertisedHttpUrl);
  return `${url.protocol === 'https:' ? 'grpcs' : 'grpc'}://${url.hostname}:${grpcPort}`;
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
    const instances = instanceReports(this.host);
    const sourceCards = this.identity.sourceCards;
    const cards = sourceCards ? summarizeCards(cardsAsRun(sourceCards, instances, cpuCoefficientOf(sourceCards))) : this.identity.cards;
    this.#last = {
      nodeId: this.identity.nodeId,
      url: this.identity.url,
      ...(this.identity.grpcUrl !== undefined ? { grpcUrl: this.identity.grpcUrl } : {}),
      state: this.state,
      cards,
      inFlight: this.host.meter.inFlight,
      queueDepth: this.host.meter.queueDepth,
      slots: this.host.slots,
      ...window,
      models: this.host.models().map((m) => ({ name: m.metadata.name, versions: [...m.executors.keys()] })),
      instances,
      unavailable: unavailableReports(this.host),
      ...calibrationOf(this.host),
      sentAtMs: Date.now(),
    };
    return this.#last;
  }

  /** The last report sent, for the node's own operator view. */
  last(): LoadReport | undefined {
    return this.#last;
  }
}

/** The calibration figures of the models served now; nothing when none was measured (old report shape). */
function calibrationOf(host: ModelHost): { calibration?: CalibrationReport[] } {
  const calibration = host.models().flatMap((m) => m.calibration
    .filter((c) => m.executors.has(c.version))
    .map((c): CalibrationReport => ({
      model: m.metadata.name, version: c.version, card: c.card.id, cardType: c.card.type, engine: c.engine,
      batch: c.batch, inferencesPerSec: c.inferencesPerSec, p50Ms: c.p50Ms, p99Ms: c.p99Ms,
    })));
  return calibration.length > 0 ? { calibration } : {};
}
