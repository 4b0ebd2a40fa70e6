/** The load header a backend puts on every answer: its text form both ways, and what counts as malformed. */
import { describe, expect, it } from 'vitest';
import { formatLoadHeader, parseLoadHeader, withoutLoad, type LoadFigures } from '../../core/load-header.js';
import type { LoadReport } from '../../core/load-report.js';

const FIGURES: LoadFigures = {
  inFlight: 3, queueDepth: 1, slots: 4, utilization: 0.5312, serviceTimeMs: 12.5, latencyMs: 20.125,
  completedPerSec: 80.25, errorsPerSec: 0, windowMs: 1500.4, state: 'ready',
};

describe('load header', () => {
  it('round-trips, rounded, in about 70 bytes', () => {
    const text = formatLoadHeader(FIGURES);
    expect(text).toBe('f=3,q=1,s=4,u=0.531,st=12.5,l=20.13,r=80.25,e=0,w=1500,d=0');
    expect(parseLoadHeader(text)).toEqual({ ...FIGURES, utilization: 0.531, latencyMs: 20.13, windowMs: 1500 });
    expect(parseLoadHeader(formatLoadHeader({ ...FIGURES, state: 'draining' }))?.state).toBe('draining');
  });

  it('ignores unknown keys and spaces, in any order', () => {
    expect(parseLoadHeader('d=0, w=1000, e=0, r=5, l=2, st=1, u=0.1, s=1, q=0, f=1, new_metric=7')).toMatchObject({ inFlight: 1, completedPerSec: 5, state: 'ready' });
  });

  it('counts a header with a missing, negative, non-numeric or out-of-range value as absent', () => {
    const good = formatLoadHeader(FIGURES);
    for (const bad of [
      '', 'garbage', good.replace('f=3,', ''), good.replace('q=1', 'q=-1'), good.replace('u=0.531', 'u=1.5'),
      good.replace('st=12.5', 'st=abc'), good.replace('d=0', 'd=2'), good.replace('w=1500', 'w=Infinity'),
    ]) expect(parseLoadHeader(bad), bad).toBeUndefined();
  });

  it('withoutLoad keeps membership and zeroes the load figures (an etcd record)', () => {
    const report = { nodeId: 'n', url: 'http://x:1', cards: [], models: [{ name: 'm', versions: ['1'] }], sentAtMs: 1, ...FIGURES } as LoadReport;
    const record = withoutLoad(report);
    expect(record).toMatchObject({ nodeId: 'n', slots: 4, models: report.models, inFlight: 0, utilization: 0, completedPerSec: 0, windowMs: 0 });
  });
});
