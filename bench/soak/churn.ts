/**
 * Node churn for the soak: a schedule (pure, seeded, so two runs churn alike) and the executor that
 * applies it to a real cluster. Actions take turns so each kind happens about as often:
 *   kill  — SIGKILL (a crash), restarted after `downMs`;
 *   drain — SIGTERM (graceful drain: announce, finish in-flight work, exit), restarted after `downMs`;
 *   stop  — SIGSTOP (a hung node: sockets open, nothing answers), SIGCONT after `downMs`.
 * Victims take turns too, and one action ends (its node restarted) before the next begins.
 */
import { seededRandom } from '../support/seeded-random.js';
import { describeExit, sleep, waitForNodes, type InfergateProcess } from '../support/cluster-processes.js';
import type { TimelineEvent } from './windows.js';

export const CHURN_ACTIONS = ['kill', 'drain', 'stop'] as const;
export type ChurnAction = (typeof CHURN_ACTIONS)[number];

export interface ChurnStep {
  /** ms since the load started. */
  atMs: number;
  node: string;
  action: ChurnAction;
  /** kill/drain: time between the exit and the restart; stop: time between SIGSTOP and SIGCONT. */
  downMs: number;
}

export interface ChurnScheduleOptions {
  durationMs: number;
  nodes: readonly string[];
  /** Gap between two actions is drawn uniformly from [minGapMs, maxGapMs]. */
  minGapMs: number;
  maxGapMs: number;
  /** Downtime drawn uniformly from [minDownMs, maxDownMs]. */
  minDownMs: number;
  maxDownMs: number;
  actions?: readonly ChurnAction[];
  seed?: number;
}

/** Steps from the first gap on, none starting later than the run's end minus its downtime. */
export function churnSchedule(options: ChurnScheduleOptions): ChurnStep[] {
  const random = seededRandom(options.seed ?? 7);
  const actions = options.actions ?? CHURN_ACTIONS;
  if (actions.length === 0 || options.nodes.length === 0) return [];
  const between = (lo: number, hi: number) => lo + (hi - lo) * random();
  const steps: ChurnStep[] = [];
  let at = between(options.minGapMs, options.maxGapMs);
  for (let i = 0; ; i++) {
    const downMs = Math.round(between(options.minDownMs, options.maxDownMs));
    if (at + downMs >= options.durationMs) break;
    steps.push({ atMs: Math.round(at), node: options.nodes[i % options.nodes.length], action: actions[i % actions.length], downMs });
    at += between(options.minGapMs, options.maxGapMs);
  }
  return steps;
}

export interface ChurnTarget {
  gatewayUrl: string;
  /** The running process of a node. */
  process(node: string): InfergateProcess;
  /** Starts the node again (same id); resolves when it listens. */
  restart(node: string): Promise<InfergateProcess>;
  /** Every node id, for "all back in the pool". */
  nodes: readonly string[];
}

/** What one step did, with times (ms since the load started) for the timeline. */
export interface ChurnOutcome extends ChurnStep {
  signalledAtMs: number;
  /** kill/drain: when the process exited, and how. */
  exitedAtMs?: number;
  exit?: string;
  /** kill/drain: the new process listens; stop: SIGCONT sent. */
  backAtMs?: number;
  /** Every node listed ready in the gateway's pool again. */
  rejoinedAtMs?: number;
  error?: string;
}

const REJOIN_TIMEOUT_MS = 30_000;
const EXIT_TIMEOUT_MS = 40_000;

/**
 * Runs the steps against the cluster, each at its time (later if the previous one overran), until
 * they are done or `stopped()` says so. `now()` is ms since the load started.
 */
export async function runChurn(steps: readonly ChurnStep[], target: ChurnTarget, now: () => number, stopped: () => boolean): Promise<ChurnOutcome[]> {
  const outcomes: ChurnOutcome[] = [];
  for (const step of steps) {
    const wait = step.atMs - now();
    if (wait > 0) await sleep(wait);
    if (stopped()) break;
    const outcome: ChurnOutcome = { ...step, signalledAtMs: now() };
    outcomes.push(outcome);
    try {
      const victim = target.process(step.node);
      if (step.action === 'stop') {
        victim.signal('SIGSTOP');
        await sleep(step.downMs);
        victim.signal('SIGCONT');
        outcome.backAtMs = now();
      } else {
        victim.signal(step.action === 'kill' ? 'SIGKILL' : 'SIGTERM');
        const exit = await Promise.race([victim.exited, sleep(EXIT_TIMEOUT_MS).then(() => undefined)]);
        if (!exit) {
          // A drain that hangs is a finding; the node is killed so the soak goes on.
          outcome.error = `no exit within ${EXIT_TIMEOUT_MS} ms of ${step.action}; killed`;
          victim.signal('SIGKILL');
          await victim.exited;
        }
        outcome.exitedAtMs = now();
        outcome.exit = describeExit(victim.exit!);
        await sleep(step.downMs);
        await target.restart(step.node);
        outcome.backAtMs = now();
      }
      await waitForNodes(target.gatewayUrl, target.nodes, { timeoutMs: REJOIN_TIMEOUT_MS });
      outcome.rejoinedAtMs = now();
    } catch (err) {
      outcome.error = (outcome.error ? `${outcome.error}; ` : '') + (err as Error).message.split('\n')[0];
    }
  }
  return outcomes;
}

/** Timeline marks of the outcomes: the signal, and the node back. */
export function churnEvents(outcomes: readonly ChurnOutcome[]): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  for (const o of outcomes) {
    events.push({ atMs: o.signalledAtMs, label: `${o.action} ${o.node}` });
  }
  return events;
}
