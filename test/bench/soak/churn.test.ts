/** The churn schedule: seeded, inside the run, actions and victims in turn, gaps and downtimes in range. */
import { describe, expect, it } from 'vitest';
import { churnSchedule } from '../../../bench/soak/churn.js';

const OPTIONS = { durationMs: 600_000, nodes: ['b1', 'b2', 'b3', 'b4'], minGapMs: 30_000, maxGapMs: 60_000, minDownMs: 2_000, maxDownMs: 5_000 };

describe('churn schedule', () => {
  it('takes actions and victims in turn, with gaps and downtimes in range, all inside the run', () => {
    const steps = churnSchedule(OPTIONS);
    // 600 s at one action per 30–60 s: 10 to 20 actions.
    expect(steps.length).toBeGreaterThanOrEqual(9);
    expect(steps.length).toBeLessThanOrEqual(20);
    steps.forEach((step, i) => {
      expect(step.action).toBe(['kill', 'drain', 'stop'][i % 3]);
      expect(step.node).toBe(OPTIONS.nodes[i % 4]);
      expect(step.downMs).toBeGreaterThanOrEqual(2_000);
      expect(step.downMs).toBeLessThanOrEqual(5_000);
      expect(step.atMs + step.downMs).toBeLessThan(OPTIONS.durationMs);
      const gap = step.atMs - (i === 0 ? 0 : steps[i - 1].atMs);
      expect(gap).toBeGreaterThanOrEqual(29_999);
      expect(gap).toBeLessThanOrEqual(60_001);
    });
  });

  it('is the same for the same seed, different for another, and empty without actions', () => {
    expect(churnSchedule(OPTIONS)).toEqual(churnSchedule(OPTIONS));
    expect(churnSchedule({ ...OPTIONS, seed: 99 })).not.toEqual(churnSchedule(OPTIONS));
    expect(churnSchedule({ ...OPTIONS, actions: [] })).toEqual([]);
    expect(churnSchedule({ ...OPTIONS, durationMs: 10_000 })).toEqual([]);
  });
});
