/**
 * What this node's instances really run on, for the operator view, metrics and the load report, and
 * the node's cards weighted by it: an accelerator card whose instances all fell back to the CPU
 * provider is worth the CPU to the gateway, not the accelerator it could have been.
 */
import type { Card } from '../adapters/card.js';
import type { InstanceReport, UnavailableModelReport } from '../core/load-report.js';
import type { ModelInstance } from '../engines/engine.js';
import { UNLOADED_REASON, type ModelHost } from './model-host.js';

/** One entry per instance of every served version. */
export function instanceReports(host: ModelHost): InstanceReport[] {
  const reports: InstanceReport[] = [];
  for (const model of host.models()) {
    for (const [version, executor] of model.executors) {
      for (const instance of executor.instances) reports.push(reportOf(model.metadata.name, version, instance));
    }
  }
  return reports;
}

function reportOf(model: string, version: string, instance: ModelInstance): InstanceReport {
  const { card, runtime } = instance;
  // Engines without providers (sim) run on the card as it is.
  const providers = runtime?.providers.length ? runtime.providers : [card.kind === 'sim' ? 'sim' : card.kind];
  return {
    model, version, card: card.id, provider: providers[0], providers: [...providers],
    degraded: runtime?.degraded ?? false,
    ...(runtime?.reason !== undefined ? { reason: runtime.reason } : {}),
  };
}

/** Declared models the node cannot serve, with the reason; those unloaded on request are not listed. */
export function unavailableReports(host: ModelHost): UnavailableModelReport[] {
  return host.index()
    .filter((e) => e.state === 'UNAVAILABLE' && e.reason !== UNLOADED_REASON)
    .map((e) => ({ name: e.name, version: e.version, reason: e.reason }));
}

/**
 * The cards with the coefficient of what they run: an accelerator card with instances, every one of
 * them running on the CPU provider after a fallback, counts with `cpuCoefficient` (the node's CPU
 * card). A card without instances, or with one still on its accelerator, keeps its coefficient.
 */
export function cardsAsRun(cards: readonly Card[], instances: readonly InstanceReport[], cpuCoefficient: number): Card[] {
  return cards.map((card) => {
    if (card.kind === 'cpu' || card.kind === 'sim') return card;
    const mine = instances.filter((i) => i.card === card.id);
    const onCpu = mine.length > 0 && mine.every((i) => i.degraded && i.provider === 'cpu');
    return onCpu ? { ...card, coefficient: cpuCoefficient } : card;
  });
}

/** The coefficient of the node's CPU card (the whole CPU), or 0 without one. */
export function cpuCoefficientOf(cards: readonly Card[]): number {
  return cards.find((c) => c.kind === 'cpu')?.coefficient ?? 0;
}
