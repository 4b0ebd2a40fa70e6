/**
 * One scenario under one policy: a fresh gateway with that policy in front of the fleet, the
 * scenario's open-loop load, its events at their times, and the gateway's pool view sampled all
 * along. What comes back is raw (every request, every sample); analysis.ts turns it into figures.
 */
import type { PoolMemberView } from '../../scheduler/pool.js';
import { PoolSampler, SIM_MODEL } from '../support/cluster-processes.js';
import type { Fleet } from './fleet.js';
import { runOpenLoop, smallInferRequest, type OpenLoopRecord } from '../support/open-loop.js';
import { capacityPerSec, loadShareAt, type FleetNode, type Scenario, type ScenarioEvent } from './scenarios.js';

export interface PolicyConfig {
  policy: string;
  /** The closed-loop guard on (with `queueBudget`) or off. */
  guard: boolean;
}

export function configLabel(config: PolicyConfig): string {
  return `${config.policy}${config.guard ? '+guard' : ''}`;
}

export interface PoolSnapshot {
  /** ms since the load started. */
  tMs: number;
  nodes: PoolMemberView[];
}

export interface ScenarioRun {
  scenario: Scenario;
  config: PolicyConfig;
  label: string;
  /** Nominal capacity of the whole fleet, requests/s: the load's 100 %. */
  capacityPerSec: number;
  records: OpenLoopRecord[];
  samples: PoolSnapshot[];
  /** When each event was applied, ms since the load started. */
  events: (ScenarioEvent & { atMs: number })[];
  retries: number;
}

export interface RunOptions {
  baseServiceMs: number;
  requestTimeoutMs: number;
  /** `--queue-budget` when the guard is on. */
  queueBudget: string;
  sampleIntervalMs: number;
  random?: () => number;
  extraGatewayArgs?: string[];
}

export async function runScenario(fleet: Fleet, fleetNodes: readonly FleetNode[], scenario: Scenario, config: PolicyConfig, options: RunOptions): Promise<ScenarioRun> {
  const absent = scenario.absentAtStart ?? [];
  await fleet.stopGateway();
  await fleet.reset(absent);
  await fleet.startGateway({ policy: config.policy, queueBudget: config.guard ? options.queueBudget : 'off', extraArgs: options.extraGatewayArgs });
  await fleet.waitForPool(fleetNodes.map((n) => n.id).filter((id) => !absent.includes(id)));

  const capacity = capacityPerSec(fleetNodes, options.baseServiceMs);
  const sampler = new PoolSampler(fleet.gatewayUrl, options.sampleIntervalMs, SIM_MODEL).start();
  const events: (ScenarioEvent & { atMs: number })[] = [];
  const t0 = performance.now();
  const timers = scenario.events.map((event) => setTimeout(() => {
    events.push({ ...event, atMs: performance.now() - t0 });
    fleet.apply(event.node, event.action).catch((err: unknown) => {
      process.stderr.write(`routing bench: ${event.label} failed: ${(err as Error).message}\n`);
    });
  }, event.atS * 1000));
  const load = await runOpenLoop({
    url: fleet.gatewayUrl,
    request: smallInferRequest(SIM_MODEL),
    durationMs: scenario.durationS * 1000,
    rateAt: (tMs) => loadShareAt(scenario, tMs / 1000) * capacity,
    requestTimeoutMs: options.requestTimeoutMs,
    random: options.random,
  });
  for (const t of timers) clearTimeout(t);
  const raw = await sampler.stop();
  const retries = await fleet.retries();
  const samples = raw.map((s) => ({ tMs: s.atMs - load.startedAt, nodes: [...s.nodes.values()] }));
  const shift = load.startedAt - t0;
  return {
    scenario,
    config,
    label: configLabel(config),
    capacityPerSec: capacity,
    records: load.records,
    samples,
    events: events.map((e) => ({ ...e, atMs: e.atMs - shift })),
    retries,
  };
}
