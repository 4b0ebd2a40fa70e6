/**
 * The routing bench's harness, run for seconds instead of minutes (real gateway and 8 real
 * SIMULATED backend processes on loopback): every scenario runs and reports the shape the full
 * bench relies on, every policy serves requests, and a node slowed 10× gets a smaller share under
 * `capacity` than under `static` (both without the in-flight guard, so only the weights differ).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTING_POLICY_NAMES } from '../../scheduler/routing-policy.js';
import { analyzeRun } from '../../bench/routing/analysis.js';
import { Fleet } from '../../bench/routing/fleet.js';
import { runRoutingBench } from '../../bench/routing/main.js';
import { runScenario } from '../../bench/routing/run-scenario.js';
import { FLEET, SCENARIOS, scaleScenario, scenarioById } from '../../bench/routing/scenarios.js';
import { closeOperatorClients } from '../../bench/support/cluster-processes.js';
import { CLUSTER_QUEUE_TIMEOUT_MS, takeClusterTurn } from '../support/cluster.js';

const BASE_SERVICE_MS = 100;
const RUN = { baseServiceMs: BASE_SERVICE_MS, requestTimeoutMs: 10_000, queueBudget: '3', sampleIntervalMs: 100 };

describe('routing bench (smoke)', () => {
  const out = mkdtempSync(join(tmpdir(), 'infergate-routing-'));
  // Nine processes: it takes its turn with the cluster tests, whose timings it would otherwise upset.
  let release: (() => void) | undefined;
  beforeAll(async () => {
    release = await takeClusterTurn();
  }, CLUSTER_QUEUE_TIMEOUT_MS + 5_000);
  afterAll(async () => {
    rmSync(out, { recursive: true, force: true });
    await closeOperatorClients();
    release?.();
  });

  it('runs every scenario and writes the report, the tables and every chart', async () => {
    const result = await runRoutingBench(['--policies', 'capacity', '--guard', 'on', '--time-scale', '0.12', '--out', out, '--quiet']);
    expect(result).toBeDefined();
    const { figures, files } = result!;
    expect(figures.map((f) => f.scenario)).toEqual(SCENARIOS.map((s) => s.id));
    for (const f of figures) {
      expect(f.label).toBe('capacity+guard');
      for (const p of f.phases) {
        expect(p.requests, `${f.scenario} ${p.phase}`).toBeGreaterThan(0);
        expect(p.ok + p.failed + p.timedOut + p.refused).toBe(p.requests);
        expect(p.shares.map((s) => s.node)).toEqual(FLEET.map((n) => n.id));
      }
    }
    // Capacity shares follow the fleet: n4 (speed 4) holds 4/16 of it while all are up.
    const steady = figures.find((f) => f.scenario === 'S1-50')!.phases[0];
    expect(steady.shares.find((s) => s.node === 'n4')!.capacity).toBeCloseTo(0.25, 5);
    for (const name of ['report.html', 'routing.md', 'routing.json', 's2-latency.svg', 's2-weights.svg', 's1-85-shares.svg', 'p99-vs-load.svg']) {
      expect(files.some((f) => f.endsWith(name)), name).toBe(true);
      expect(existsSync(join(out, name)), name).toBe(true);
    }
    const markdown = readFileSync(join(out, 'routing.md'), 'utf8');
    expect(markdown).toContain('| policy | S1 50 % p99');
    expect(markdown).toContain('capacity+guard');
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('<svg');
  }, 240_000);

  describe('on one fleet', () => {
    const fleet = new Fleet(FLEET, BASE_SERVICE_MS);
    beforeAll(async () => fleet.init(), 30_000);
    afterAll(async () => fleet.close());

    it('every policy serves the load, with and without the guard', async () => {
      const scenario = scaleScenario(scenarioById('S1-50'), 0.1);
      for (const policy of ROUTING_POLICY_NAMES) {
        for (const guard of [true, false]) {
          const figures = analyzeRun(await runScenario(fleet, FLEET, scenario, { policy, guard }, RUN), FLEET, BASE_SERVICE_MS);
          const phase = figures.phases[0];
          expect(phase.ok, `${figures.label}`).toBeGreaterThan(0);
          expect(phase.failed + phase.timedOut + phase.refused, `${figures.label}`).toBe(0);
          expect(phase.shares.filter((s) => s.dispatch > 0).length, `${figures.label} spreads the load`).toBeGreaterThan(1);
        }
      }
    }, 240_000);

    it('a node slowed 10× gets a smaller share under capacity than under static', async () => {
      const scenario = scaleScenario(scenarioById('S2'), 0.35);
      const slowedShare = async (policy: string) => {
        const figures = analyzeRun(await runScenario(fleet, FLEET, scenario, { policy, guard: false }, RUN), FLEET, BASE_SERVICE_MS);
        return figures.phases.find((p) => p.phase === 'slowed')!.shares.find((s) => s.node === 'n4')!.dispatch;
      };
      const underStatic = await slowedShare('static');
      const underCapacity = await slowedShare('capacity');
      // static keeps sending n4 its full share (4/16) whatever it does; capacity cuts it.
      expect(underStatic).toBeGreaterThan(0.2);
      expect(underCapacity).toBeLessThan(underStatic * 0.75);
    }, 120_000);
  });
});
