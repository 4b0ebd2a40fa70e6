import { describe, it, expect, afterEach } from 'vitest';
import type { CompletedPick, PickMember, PickPolicy, PickPolicyContext, PickResult, ProbeAnswer, Prober } from '../../scheduler/picker.js';
import { EligibleSet } from '../../scheduler/eligible-set.js';
import { createPickPolicy, isPickPolicyName, PICK_POLICY_NAMES } from '../../scheduler/picker-factory.js';
import { SwrrPickPolicy } from '../../scheduler/picker-policy-swrr.js';
import { RoundRobinPickPolicy } from '../../scheduler/picker-round-robin.js';
import { WeightedLeastConnectionsPickPolicy } from '../../scheduler/picker-least-connections.js';
import { PowerOfTwoChoicesPickPolicy } from '../../scheduler/picker-p2c.js';
import {
  DEFAULT_PEAK_EWMA_DECAY_MS,
  DEFAULT_PEAK_EWMA_FAILURE_PENALTY_MS,
  DEFAULT_PEAK_EWMA_RTT_MS,
  PeakEwmaPickPolicy,
} from '../../scheduler/picker-peak-ewma.js';
import { PrequalPickPolicy, rifQuantile, selectHotCold, type PrequalOptions } from '../../scheduler/picker-prequal.js';
import { ConfigError } from '../../core/errors.js';
import { seededRandom } from '../../bench/support/seeded-random.js';


function randomInt(random: () => number, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

/** A pool member as the pool keeps it: live fields the policy reads at pick time. */
class Member implements PickMember {
  constructor(
    readonly id: string,
    public weight = 1,
    public inFlight = 0,
  ) {}
}

function idOf(result: PickResult): string | undefined {
  return result.kind === 'complete' ? result.memberId : undefined;
}

function pickIds(policy: PickPolicy, count: number, nowMs = 0): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  for (let i = 0; i < count; i++) out.push(idOf(policy.pick(nowMs)));
  return out;
}

function counts(seq: (string | undefined)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of seq) if (id !== undefined) out[id] = (out[id] ?? 0) + 1;
  return out;
}

function withMembers<P extends PickPolicy>(policy: P, members: Member[]): P {
  for (const m of members) policy.add(m);
  return policy;
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).name;
  }
  return undefined;
}

/** Lets resolved probe answers (promise reactions) run. */
async function settle(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

/** A prober whose answers the test gives, one by one or by table. */
class FakeProber {
  readonly sent: { id: string; resolve: (a: ProbeAnswer) => void; reject: (e: unknown) => void }[] = [];
  readonly probe: Prober = (id) =>
    new Promise<ProbeAnswer>((resolve, reject) => {
      this.sent.push({ id, resolve, reject });
    });

  /** Answers the oldest pending probe of one member. */
  answer(id: string, rif: number, latencyMs: number): void {
    const at = this.sent.findIndex((s) => s.id === id);
    if (at < 0) throw new Error(`no probe pending for ${id}`);
    this.sent.splice(at, 1)[0].resolve({ inFlight: rif, latencyMs });
  }

  /** Answers every pending probe from the table (RIF, latency ms); members not in it fail. */
  answerAll(table: Record<string, [number, number]>): void {
    for (const s of this.sent.splice(0)) {
      const row = table[s.id];
      if (row) s.resolve({ inFlight: row[0], latencyMs: row[1] });
      else s.reject(new Error(`no answer for ${s.id}`));
    }
  }
}

// Vitest fails a run on an unhandled rejection; this makes the check explicit per test as well.
const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));
afterEach(() => {
  expect(unhandled).toEqual([]);
});

describe('EligibleSet', () => {
  it('adds, deletes by swapping the last in, and reports membership', () => {
    const set = new EligibleSet<string>();
    expect(set.add('a')).toBe(true);
    expect(set.add('b')).toBe(true);
    expect(set.add('c')).toBe(true);
    expect(set.add('a')).toBe(false);
    expect(set.delete('a')).toBe(true);
    expect(set.delete('a')).toBe(false);
    expect([set.at(0), set.at(1)]).toEqual(['c', 'b']);
    expect(set.has('c')).toBe(true);
    expect(set.has('a')).toBe(false);
    expect(set.size).toBe(2);
    expect(new EligibleSet<string>().random(Math.random)).toBeUndefined();
  });

  it('samples distinct items, every one equally often', () => {
    const set = new EligibleSet<number>();
    for (let i = 0; i < 10; i++) set.add(i);
    const random = seededRandom(3);
    const out: number[] = [];
    const seen = new Array(10).fill(0);
    const rounds = 20_000;
    for (let r = 0; r < rounds; r++) {
      expect(set.sample(3, random, out)).toBe(3);
      expect(new Set(out.slice(0, 3)).size).toBe(3);
      for (let i = 0; i < 3; i++) seen[out[i]]++;
    }
    for (const n of seen) expect(Math.abs(n / (rounds * 3) - 0.1)).toBeLessThan(0.01);
    expect(set.sample(20, random, out)).toBe(10);
    expect(new Set(out.slice(0, 10)).size).toBe(10);
  });
});

describe('picker-factory', () => {
  it('knows the eight names and builds each', () => {
    expect(PICK_POLICY_NAMES).toEqual(['round-robin', 'static', 'astra', 'capacity', 'wlc', 'p2c', 'peak-ewma', 'prequal']);
    const context: PickPolicyContext = { random: seededRandom(1) };
    const classes: Record<string, unknown> = {
      'round-robin': RoundRobinPickPolicy,
      static: SwrrPickPolicy,
      astra: SwrrPickPolicy,
      capacity: SwrrPickPolicy,
      wlc: WeightedLeastConnectionsPickPolicy,
      p2c: PowerOfTwoChoicesPickPolicy,
      'peak-ewma': PeakEwmaPickPolicy,
      prequal: PrequalPickPolicy,
    };
    for (const name of PICK_POLICY_NAMES) {
      expect(isPickPolicyName(name)).toBe(true);
      const policy = createPickPolicy(name, context);
      expect(policy.name).toBe(name);
      expect(policy).toBeInstanceOf(classes[name] as new (...args: never[]) => unknown);
    }
    expect(isPickPolicyName('random')).toBe(false);
  });

  it('rejects an unknown name with ConfigError listing the known ones', () => {
    expect(() => createPickPolicy('least-loaded', { random: Math.random })).toThrow(ConfigError);
    expect(() => createPickPolicy('least-loaded', { random: Math.random })).toThrow(/known: round-robin, static, astra, capacity, wlc, p2c, peak-ewma, prequal/);
  });
});

describe.each(PICK_POLICY_NAMES)('%s: the contract', (name) => {
  const weighted = name === 'static' || name === 'astra' || name === 'capacity' || name === 'wlc';

  it("answers 'empty' with no member, or none eligible", () => {
    const policy = createPickPolicy(name, { random: seededRandom(2) });
    expect(policy.pick(0)).toEqual({ kind: 'empty' });
    withMembers(policy, [new Member('a', 2), new Member('b', 1)]);
    policy.setEligible('a', false);
    policy.setEligible('b', false);
    expect(policy.pick(0).kind).toBe('empty');
    policy.setEligible('b', true);
    expect(idOf(policy.pick(0))).toBe('b');
    policy.remove('b');
    expect(policy.pick(0).kind).toBe('empty');
  });

  it('rejects duplicates and unknown ids with stable codes', () => {
    const policy = withMembers(createPickPolicy(name, { random: seededRandom(2) }), [new Member('a')]);
    expect(codeOf(() => policy.add(new Member('a')))).toBe('PICKER_DUPLICATE_MEMBER');
    expect(codeOf(() => policy.remove('nope'))).toBe('PICKER_UNKNOWN_MEMBER');
    expect(codeOf(() => policy.setWeight('nope', 1))).toBe('PICKER_UNKNOWN_MEMBER');
    expect(codeOf(() => policy.setEligible('nope', true))).toBe('PICKER_UNKNOWN_MEMBER');
    expect(idOf(policy.pick(0))).toBe('a');
  });

  it('hands out one result object per member (no allocation per pick)', () => {
    const policy = withMembers(createPickPolicy(name, { random: seededRandom(2) }), [new Member('a')]);
    const first = policy.pick(0);
    expect(policy.pick(0)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
  });

  it.each([1, 2, 3])('never picks an ineligible or removed member through random churn (seed %i)', async (seed) => {
    const random = seededRandom(seed);
    const prober = new FakeProber();
    const policy = createPickPolicy(name, { random: seededRandom(seed + 100), probe: prober.probe });
    const members = new Map<string, Member>();
    const eligible = new Set<string>();
    const ended: CompletedPick[] = [];
    let nextId = 0;
    let picked = 0;
    let nowMs = 0;
    for (let step = 0; step < 3_000; step++) {
      nowMs += 5;
      const r = random();
      if (r < 0.1 || members.size === 0) {
        const m = new Member(`m${nextId++}`, random() < 0.15 ? 0 : randomInt(random, 1, 9), randomInt(random, 0, 4));
        members.set(m.id, m);
        eligible.add(m.id);
        policy.add(m);
      } else if (r < 0.16) {
        const id = [...members.keys()][randomInt(random, 0, members.size - 1)];
        members.delete(id);
        eligible.delete(id);
        policy.remove(id);
      } else if (r < 0.3) {
        const id = [...members.keys()][randomInt(random, 0, members.size - 1)];
        const on = random() < 0.6;
        if (on) eligible.add(id);
        else eligible.delete(id);
        policy.setEligible(id, on);
      } else if (r < 0.36) {
        const m = [...members.values()][randomInt(random, 0, members.size - 1)];
        m.weight = random() < 0.15 ? 0 : randomInt(random, 1, 9);
        policy.setWeight(m.id, m.weight);
      } else if (r < 0.42) {
        const m = [...members.values()][randomInt(random, 0, members.size - 1)];
        m.inFlight = randomInt(random, 0, 6);
      } else if (r < 0.47 && ended.length > 0) {
        // Calls end late, some after their member left.
        const pick = ended.splice(randomInt(random, 0, ended.length - 1), 1)[0];
        const outcomes = ['ok', 'client_error', 'server_error', 'transport_error', 'cancelled'] as const;
        pick.onCallEnded?.(outcomes[randomInt(random, 0, 4)], randomInt(random, 1, 400), nowMs);
      } else if (r < 0.5) {
        // Probe answers arrive (some fail), possibly for members gone meanwhile.
        const table: Record<string, [number, number]> = {};
        for (const id of members.keys()) if (random() < 0.8) table[id] = [randomInt(random, 0, 9), randomInt(random, 1, 200)];
        prober.answerAll(table);
        await settle();
      } else {
        const allowed = [...eligible].filter((id) => !weighted || members.get(id)!.weight > 0);
        const result = policy.pick(nowMs);
        if (allowed.length === 0) {
          expect(result.kind).toBe('empty');
        } else {
          expect(result.kind).toBe('complete');
          expect(allowed).toContain(idOf(result));
          picked++;
          ended.push(result as CompletedPick);
        }
      }
    }
    prober.answerAll({});
    await settle();
    expect(picked).toBeGreaterThan(500);
  });
});

describe('SwrrPickPolicy', () => {
  it('picks nginx SWRR over the pool weights, following weight changes', () => {
    const policy = withMembers(new SwrrPickPolicy('static', { random: seededRandom(1) }), [new Member('a', 5), new Member('b', 1), new Member('c', 1)]);
    // Random start phase: shares exact per window of Σw = 7, order depends on the phase.
    for (let window = 0; window < 4; window++) expect(counts(pickIds(policy, 7))).toEqual({ a: 5, b: 1, c: 1 });
    const plain = withMembers(new SwrrPickPolicy('capacity', { random: () => 0 }), [new Member('a', 5), new Member('b', 1), new Member('c', 1)]);
    expect(pickIds(plain, 7).join('')).toBe('aabacaa');
    plain.setWeight('a', 1);
    expect(counts(pickIds(plain, 300))).toEqual({ a: 100, b: 100, c: 100 });
    expect(plain.name).toBe('capacity');
  });
});

describe('RoundRobinPickPolicy', () => {
  const abcd = (): Member[] => ['a', 'b', 'c', 'd'].map((id, i) => new Member(id, i + 1));

  it.each([
    { random: 0, expected: 'abcdabcdab' },
    { random: 0.25, expected: 'bcdabcdabc' },
    { random: 0.99, expected: 'dabcdabcda' },
  ])('rotates in order from a random start (random() = $random)', ({ random, expected }) => {
    const policy = withMembers(new RoundRobinPickPolicy({ random: () => random }), abcd());
    expect(pickIds(policy, 10).join('')).toBe(expected);
  });

  it('ignores weights: equal shares', () => {
    const policy = withMembers(new RoundRobinPickPolicy({ random: seededRandom(4) }), abcd());
    expect(counts(pickIds(policy, 400))).toEqual({ a: 100, b: 100, c: 100, d: 100 });
  });

  it.each([
    {
      name: 'a member sitting out is skipped, and rejoins after everyone else has had a turn',
      steps: ['pick a', 'off c', 'pick b', 'pick d', 'pick a', 'on c', 'pick b', 'pick d', 'pick a', 'pick c', 'pick b'],
    },
    {
      name: 'the member whose turn it is leaves: the next one takes it',
      steps: ['pick a', 'off b', 'pick c', 'remove d', 'pick a', 'pick c', 'on b', 'pick a', 'pick c', 'pick b', 'pick a'],
    },
    {
      name: 'a new member waits until everyone else has had a turn',
      steps: ['pick a', 'pick b', 'add e', 'pick c', 'pick d', 'pick a', 'pick b', 'pick e', 'pick c'],
    },
    {
      name: 'everyone out, then back in the order they returned',
      steps: ['pick a', 'off a', 'off b', 'off c', 'off d', 'pick -', 'on d', 'on b', 'pick d', 'pick b', 'pick d'],
    },
  ])('$name', ({ steps }) => {
    const policy = withMembers(new RoundRobinPickPolicy({ random: () => 0 }), abcd());
    for (const step of steps) {
      const [op, id] = step.split(' ');
      if (op === 'pick') expect(idOf(policy.pick(0)) ?? '-').toBe(id);
      else if (op === 'off' || op === 'on') policy.setEligible(id, op === 'on');
      else if (op === 'remove') policy.remove(id);
      else policy.add(new Member(id));
    }
  });
});

describe('WeightedLeastConnectionsPickPolicy', () => {
  it.each([
    { name: 'idle: the heavier member ((0+1)/2 < (0+1)/1)', members: [['a', 1, 0], ['b', 2, 0]], expected: 'b' },
    { name: 'busy heavy member loses ((3+1)/2 = 2 > 1)', members: [['a', 1, 0], ['b', 2, 3]], expected: 'a' },
    { name: 'in proportion to weight ((1+1)/2 < (1+1)/1)', members: [['a', 1, 1], ['b', 2, 1], ['c', 4, 6]], expected: 'b' },
    { name: 'weight 0 is never picked, even idle', members: [['z', 0, 0], ['a', 1, 5]], expected: 'a' },
    { name: 'fractional weights (1/0.5 = 2 < 91/41.7)', members: [['a', 0.5, 0], ['b', 41.7, 90]], expected: 'a' },
    { name: 'fractional weights (1/0.5 = 2 > 81/41.7)', members: [['a', 0.5, 0], ['b', 41.7, 80]], expected: 'b' },
    { name: 'only weight 0: empty', members: [['z', 0, 0]], expected: undefined },
  ] as { name: string; members: [string, number, number][]; expected: string | undefined }[])('$name', ({ members, expected }) => {
    // Whatever the start of the scan, the strict minimum wins.
    for (const seed of [1, 2, 3, 4]) {
      const policy = withMembers(
        new WeightedLeastConnectionsPickPolicy({ random: seededRandom(seed) }),
        members.map(([id, w, n]) => new Member(id, w, n)),
      );
      for (let i = 0; i < members.length; i++) expect(idOf(policy.pick(0))).toBe(expected);
    }
  });

  it('shares ties evenly between equal idle members', () => {
    const policy = withMembers(
      new WeightedLeastConnectionsPickPolicy({ random: seededRandom(9) }),
      ['a', 'b', 'c'].map((id) => new Member(id, 2)),
    );
    // The scan start rotates by one per pick: exactly even.
    expect(counts(pickIds(policy, 300))).toEqual({ a: 100, b: 100, c: 100 });
  });

  it('fills members in proportion to weight when calls pile up', () => {
    const members = [new Member('a', 3), new Member('b', 1), new Member('c', 0.5)];
    const policy = withMembers(new WeightedLeastConnectionsPickPolicy({ random: seededRandom(5) }), members);
    for (let i = 0; i < 90; i++) {
      const id = idOf(policy.pick(0))!;
      members.find((m) => m.id === id)!.inFlight++;
    }
    // In flight ends in proportion 3 : 1 : 0.5 of 90 (60, 20, 10), to within one call each.
    expect(Math.abs(members[0].inFlight - 60)).toBeLessThanOrEqual(1);
    expect(Math.abs(members[1].inFlight - 20)).toBeLessThanOrEqual(1);
    expect(Math.abs(members[2].inFlight - 10)).toBeLessThanOrEqual(1);
  });
});

describe('PowerOfTwoChoicesPickPolicy', () => {
  it('with two members always takes the one with fewer in flight', () => {
    const a = new Member('a', 1, 3);
    const b = new Member('b', 1, 2);
    const policy = withMembers(new PowerOfTwoChoicesPickPolicy({ random: seededRandom(1) }), [a, b]);
    expect(counts(pickIds(policy, 50))).toEqual({ b: 50 });
    b.inFlight = 4;
    expect(counts(pickIds(policy, 50))).toEqual({ a: 50 });
  });

  it('splits ties evenly', () => {
    const policy = withMembers(new PowerOfTwoChoicesPickPolicy({ random: seededRandom(2) }), [new Member('a', 1, 1), new Member('b', 9, 1)]);
    const got = counts(pickIds(policy, 20_000));
    expect(Math.abs(got.a / 20_000 - 0.5)).toBeLessThan(0.02);
  });

  it('gives each member the chance to win a duel: in flight 0, 1, 2 → 2/3, 1/3, 0', () => {
    const policy = withMembers(new PowerOfTwoChoicesPickPolicy({ random: seededRandom(3) }), [
      new Member('idle', 1, 0),
      new Member('one', 1, 1),
      new Member('busy', 1, 2),
    ]);
    const n = 30_000;
    const got = counts(pickIds(policy, n));
    expect(got.busy).toBeUndefined();
    expect(Math.abs(got.idle / n - 2 / 3)).toBeLessThan(0.015);
    expect(Math.abs(got.one / n - 1 / 3)).toBeLessThan(0.015);
  });

  it.each([
    { name: 'equal load per weight: tie', a: [4, 3], b: [1, 0], weighted: 'split', plain: 'b' },
    { name: 'heavier with less per weight wins', a: [4, 2], b: [1, 0], weighted: 'a', plain: 'b' },
    { name: 'weight 0 loses', a: [0, 0], b: [1, 7], weighted: 'b', plain: 'a' },
  ])('weighted: (inFlight+1)/weight — $name', ({ a, b, weighted, plain }) => {
    for (const [isWeighted, expected] of [
      [true, weighted],
      [false, plain],
    ] as const) {
      const policy = withMembers(new PowerOfTwoChoicesPickPolicy({ random: seededRandom(4) }, { weighted: isWeighted }), [
        new Member('a', a[0], a[1]),
        new Member('b', b[0], b[1]),
      ]);
      const got = counts(pickIds(policy, 2_000));
      if (expected === 'split') {
        expect(Math.abs(got.a / 2_000 - 0.5)).toBeLessThan(0.05);
      } else {
        expect(got[expected]).toBe(2_000);
      }
    }
  });
});

describe('PeakEwmaPickPolicy', () => {
  const TAU = DEFAULT_PEAK_EWMA_DECAY_MS;

  type Outcome = Parameters<NonNullable<CompletedPick['onCallEnded']>>[0];

  /** Ends a call on one member: the others sit out for the pick that gets its result. */
  function end(policy: PeakEwmaPickPolicy, id: string, outcome: Outcome, latencyMs: number, nowMs: number, all: string[] = [id]): void {
    for (const other of all) if (other !== id) policy.setEligible(other, false);
    const result = policy.pick(nowMs) as CompletedPick;
    for (const other of all) if (other !== id) policy.setEligible(other, true);
    expect(result.memberId).toBe(id);
    result.onCallEnded!(outcome, latencyMs, nowMs);
  }

  it('starts every member at the default RTT; cost = estimate × (inFlight + 1)', () => {
    const a = new Member('a', 1, 2);
    const policy = withMembers(new PeakEwmaPickPolicy({ random: seededRandom(1) }), [a]);
    expect(policy.latencyEstimateMs('a', 123)).toBe(DEFAULT_PEAK_EWMA_RTT_MS);
    expect(policy.cost('a', 0)).toBe(DEFAULT_PEAK_EWMA_RTT_MS * 3);
  });

  it.each([
    { outcome: 'ok', latency: 80, expected: 80 },
    { outcome: 'server_error', latency: 80, expected: 80 },
    { outcome: 'client_error', latency: 80, expected: 80 },
    { outcome: 'transport_error', latency: 3, expected: DEFAULT_PEAK_EWMA_FAILURE_PENALTY_MS },
    { outcome: 'cancelled', latency: 80, expected: DEFAULT_PEAK_EWMA_RTT_MS },
  ] as const)('$outcome after $latency ms: estimate $expected', ({ outcome, latency, expected }) => {
    const policy = withMembers(new PeakEwmaPickPolicy({ random: seededRandom(1) }), [new Member('a')]);
    end(policy, 'a', outcome, latency, 1_000);
    expect(policy.latencyEstimateMs('a', 1_000)).toBe(expected);
  });

  it('takes a peak at once, decays a dip by w = exp(−Δt/τ), and decays towards 0 between samples', () => {
    const policy = withMembers(new PeakEwmaPickPolicy({ random: seededRandom(1) }), [new Member('a')]);
    end(policy, 'a', 'ok', 100, 0);
    end(policy, 'a', 'ok', 400, 10);
    expect(policy.latencyEstimateMs('a', 10)).toBe(400);
    // A lower sample 1 s later: 400·w + 100·(1 − w).
    const w = Math.exp(-1_000 / TAU);
    end(policy, 'a', 'ok', 100, 1_010);
    expect(policy.latencyEstimateMs('a', 1_010)).toBeCloseTo(400 * w + 100 * (1 - w), 9);
    // No samples for τ: down by e.
    expect(policy.latencyEstimateMs('a', 1_010 + TAU)).toBeCloseTo((400 * w + 100 * (1 - w)) / Math.E, 9);
  });

  it('prefers the member with fewer calls when estimates are equal', () => {
    const a = new Member('a', 1, 3);
    const b = new Member('b', 1, 0);
    const policy = withMembers(new PeakEwmaPickPolicy({ random: seededRandom(2) }), [a, b]);
    expect(counts(pickIds(policy, 20))).toEqual({ b: 20 });
  });

  it('moves off a member on its first slow answer and comes back once the peak has decayed', () => {
    const members = [new Member('fast'), new Member('slow')];
    const latency: Record<string, number> = { fast: 10, slow: 10 };
    const policy = withMembers(new PeakEwmaPickPolicy({ random: seededRandom(3) }), members);
    let nowMs = 0;
    const share = (picks: number): Record<string, number> => {
      const seq: string[] = [];
      for (let i = 0; i < picks; i++) {
        nowMs += 100;
        const result = policy.pick(nowMs) as CompletedPick;
        seq.push(result.memberId);
        result.onCallEnded!('ok', latency[result.memberId], nowMs);
      }
      return counts(seq);
    };
    end(policy, 'fast', 'ok', 10, 0, ['fast', 'slow']);
    end(policy, 'slow', 'ok', 10, 0, ['fast', 'slow']);
    const warm = share(100);
    expect(warm.fast).toBeGreaterThan(30);
    expect(warm.slow).toBeGreaterThan(30);
    // The slow member answers 500 ms once: from then on it loses every duel.
    latency.slow = 500;
    let sampled = false;
    while (!sampled) {
      nowMs += 100;
      const result = policy.pick(nowMs) as CompletedPick;
      result.onCallEnded!('ok', latency[result.memberId], nowMs);
      sampled = result.memberId === 'slow';
    }
    latency.slow = 10;
    expect(share(300)).toEqual({ fast: 300 }); // 30 s: 500·e^(−3) ≈ 25 ms is still above 10
    // 500·e^(−t/τ) falls below fast's 10 ms after τ·ln 50 ≈ 39 s; by 60 s they share again.
    share(300);
    const after = share(200);
    expect(after.slow).toBeGreaterThan(60);
    expect(after.fast).toBeGreaterThan(60);
  });

  it('tries a member with no sample once its default RTT has decayed below the others', () => {
    const policy = withMembers(new PeakEwmaPickPolicy({ random: seededRandom(5) }), [new Member('known')]);
    end(policy, 'known', 'ok', 10, 0);
    policy.add(new Member('new'));
    let nowMs = 0;
    let firstNew: number | undefined;
    while (firstNew === undefined && nowMs < 60_000) {
      nowMs += 100;
      const result = policy.pick(nowMs) as CompletedPick;
      result.onCallEnded!('ok', 10, nowMs);
      if (result.memberId === 'new') firstNew = nowMs;
    }
    // The default 30 ms decays from the first pick that saw it (100 ms) to 10 after τ·ln 3 ≈ 11 s.
    expect(firstNew).toBeGreaterThan(10_000);
    expect(firstNew).toBeLessThan(12_000);
  });

  it('ignores the end of a call on a member removed meanwhile, even when its id comes back', () => {
    const policy = withMembers(new PeakEwmaPickPolicy({ random: seededRandom(4) }), [new Member('a')]);
    const old = policy.pick(0) as CompletedPick;
    policy.remove('a');
    policy.add(new Member('a'));
    old.onCallEnded!('ok', 900, 10);
    expect(policy.latencyEstimateMs('a', 10)).toBe(DEFAULT_PEAK_EWMA_RTT_MS);
  });

  it('rejects bad options with ConfigError', () => {
    for (const options of [{ decayMs: 0 }, { defaultRttMs: -1 }, { failurePenaltyMs: Number.NaN }]) {
      expect(() => new PeakEwmaPickPolicy({ random: Math.random }, options)).toThrow(ConfigError);
    }
  });
});

describe('Prequal: pure parts', () => {
  it.each([
    { values: [5], q: 0.84, expected: 5 },
    { values: [1, 5], q: 0.84, expected: 1 + 4 * 0.84 },
    { values: [9, 0, 2, 1], q: 0.84, expected: 2 + 7 * 0.52 },
    { values: [3, 3, 3], q: 0.84, expected: 3 },
    { values: [4, 1, 7], q: 0, expected: 1 },
    { values: [4, 1, 7], q: 1, expected: 7 },
  ])('RIF quantile of $values at $q', ({ values, q, expected }) => {
    expect(rifQuantile(Float64Array.from(values), values.length, q)).toBeCloseTo(expected, 12);
  });

  it.each([
    { name: 'coldest latency wins among the cold', probes: [[1, 50], [2, 10], [9, 5], [0, 80]], threshold: 5.64, expected: 1 },
    { name: 'latency tie: lower RIF', probes: [[3, 10], [2, 10]], threshold: 5, expected: 1 },
    { name: 'all hot: lowest RIF', probes: [[9, 1], [7, 90], [8, 2]], threshold: 5, expected: 1 },
    { name: 'all hot, RIF tie: lower latency', probes: [[7, 9], [7, 3]], threshold: 5, expected: 1 },
    { name: 'at the threshold is cold', probes: [[5, 20], [1, 30]], threshold: 5, expected: 0 },
    { name: 'none', probes: [], threshold: Number.NaN, expected: -1 },
  ])('hot-cold lexicographic: $name', ({ probes, threshold, expected }) => {
    const loads = probes.map(([rif, latencyMs]) => ({ rif, latencyMs }));
    expect(selectHotCold(loads, loads.length, threshold)).toBe(expected);
  });
});

describe('PrequalPickPolicy', () => {
  function setup(options: PrequalOptions & { members?: string[]; seed?: number } = {}) {
    const prober = new FakeProber();
    let now = 0;
    const clock = { now: () => now, set: (t: number) => (now = t) };
    const { members = ['a', 'b', 'c', 'd'], seed = 1, ...rest } = options;
    const policy = withMembers(
      new PrequalPickPolicy({ random: seededRandom(seed), probe: prober.probe }, { removesPerPick: 0, clock: clock.now, ...rest }),
      members.map((id) => new Member(id)),
    );
    return { policy, prober, clock };
  }

  it('probes distinct random eligible members without waiting, probesPerPick per pick', () => {
    const { policy, prober } = setup({ probesPerPick: 3 });
    policy.setEligible('d', false);
    for (let i = 0; i < 50; i++) {
      policy.pick(0);
      const sent = prober.sent.splice(0).map((s) => s.id);
      expect(sent).toHaveLength(3);
      expect(new Set(sent).size).toBe(3);
      expect(sent).not.toContain('d');
    }
  });

  it('sends a fractional rate as its floor or ceiling, averaging to it', () => {
    const { policy, prober } = setup({ probesPerPick: 1.5, seed: 7 });
    const perPick = new Set<number>();
    let total = 0;
    for (let i = 0; i < 4_000; i++) {
      policy.pick(0);
      perPick.add(prober.sent.length);
      total += prober.sent.length;
      prober.sent.length = 0;
    }
    expect([...perPick].sort()).toEqual([1, 2]);
    expect(Math.abs(total / 4_000 - 1.5)).toBeLessThan(0.03);
  });

  it('picks the cold member with the lowest latency, not the least loaded nor the fastest hot one', async () => {
    const { policy, prober } = setup({ probesPerPick: 4 });
    policy.pick(0);
    // RIF quantile 0.84 of {0, 1, 2, 9} = 5.64: c (RIF 9, 5 ms) is hot; of the cold, b is fastest.
    prober.answerAll({ a: [1, 50], b: [2, 10], c: [9, 5], d: [0, 80] });
    await settle();
    expect(idOf(policy.pick(1))).toBe('b');
  });

  it('uses a probe at most maxReuse times, adding one to its RIF per use', async () => {
    const { policy, prober } = setup({ probesPerPick: 1, maxReuse: 2, members: ['a'] });
    policy.pick(0);
    prober.answerAll({ a: [4, 10] });
    await settle();
    expect(policy.probes()).toMatchObject([{ memberId: 'a', rif: 4, usesLeft: 2 }]);
    policy.pick(1);
    expect(policy.probes()).toMatchObject([{ memberId: 'a', rif: 5, usesLeft: 1 }]);
    policy.pick(2);
    expect(policy.probes()).toEqual([]);
  });

  it('spreads picks as reused probes heat up', async () => {
    const { policy, prober } = setup({ probesPerPick: 2, maxReuse: 8, members: ['a', 'b'] });
    policy.pick(0);
    prober.answerAll({ a: [0, 10], b: [3, 12] });
    await settle();
    prober.sent.length = 0;
    // a is faster; each use raises its RIF: at 3 it ties b (both cold, a faster), at 4 it is
    // above the 0.84 quantile of {4, 3} and hot, so b takes over.
    expect(pickIds(policy, 5, 1).join('')).toBe('aaaab');
  });

  it('falls back to a uniformly random eligible member without usable probes', () => {
    const { policy } = setup({ probesPerPick: 2, seed: 5 });
    policy.setEligible('a', false);
    const got = counts(pickIds(policy, 9_000));
    expect(got.a).toBeUndefined();
    for (const id of ['b', 'c', 'd']) expect(Math.abs(got[id] / 9_000 - 1 / 3)).toBeLessThan(0.02);
  });

  it('works without a prober: random among the eligible, nothing sent', () => {
    const policy = withMembers(new PrequalPickPolicy({ random: seededRandom(6) }), [new Member('a'), new Member('b')]);
    const got = counts(pickIds(policy, 2_000));
    expect(Math.abs(got.a / 2_000 - 0.5)).toBeLessThan(0.05);
    expect(policy.probes()).toEqual([]);
  });

  it('ignores failed, throwing and nonsense probes', async () => {
    let calls = 0;
    const probe: Prober = (id) => {
      calls++;
      if (id === 'a') throw new Error('synchronous failure');
      if (id === 'b') return Promise.reject(new Error('refused'));
      if (id === 'c') return Promise.resolve({ inFlight: Number.NaN, latencyMs: 3 });
      return Promise.resolve(undefined as unknown as ProbeAnswer);
    };
    const policy = withMembers(new PrequalPickPolicy({ random: seededRandom(8), probe }, { probesPerPick: 4 }), ['a', 'b', 'c', 'd'].map((id) => new Member(id)));
    for (let i = 0; i < 20; i++) {
      expect(policy.pick(i).kind).toBe('complete');
      await settle();
    }
    expect(calls).toBe(80);
    expect(policy.probes()).toEqual([]);
  });

  it('bounds the pool, evicting the oldest answer, one answer per member', async () => {
    const { policy, prober, clock } = setup({ probesPerPick: 5, maxPoolSize: 3, maxReuse: 100, members: ['a', 'b', 'c', 'd', 'e'] });
    policy.pick(0);
    for (const [i, id] of ['a', 'b', 'c', 'd', 'e'].entries()) {
      clock.set(i);
      prober.answer(id, 1, 10 + i);
      await settle();
    }
    expect(policy.probes().map((p) => p.memberId).sort()).toEqual(['c', 'd', 'e']);
    // A newer answer for d replaces its older one instead of taking a second place.
    prober.sent.length = 0;
    policy.pick(9);
    prober.answer('d', 0, 99);
    await settle();
    expect(policy.probes()).toHaveLength(3);
    expect(policy.probes().find((p) => p.memberId === 'd')).toMatchObject({ rif: 0, latencyMs: 99, usesLeft: 100 });
  });

  it('ages answers out after maxProbeAgeMs on its clock', async () => {
    const { policy, prober, clock } = setup({ probesPerPick: 4, maxProbeAgeMs: 100 });
    clock.set(1_000);
    policy.pick(0);
    prober.answerAll({ a: [0, 1], b: [5, 50], c: [5, 50], d: [5, 50] });
    await settle();
    prober.sent.length = 0;
    clock.set(1_100);
    expect(idOf(policy.pick(0))).toBe('a');
    clock.set(1_101);
    policy.pick(0);
    expect(policy.probes()).toEqual([]);
  });

  it("does not use an ineligible member's answer, and drops a removed member's", async () => {
    const { policy, prober } = setup({ probesPerPick: 4, maxReuse: 100 });
    policy.pick(0);
    const late = prober.sent.find((s) => s.id === 'c')!;
    prober.sent.splice(prober.sent.indexOf(late), 1);
    prober.answerAll({ a: [0, 1], b: [1, 20], d: [1, 30] });
    await settle();
    policy.setEligible('a', false);
    expect(idOf(policy.pick(1))).toBe('b');
    policy.setEligible('a', true);
    expect(idOf(policy.pick(1))).toBe('a');
    policy.remove('a');
    expect(policy.probes().map((p) => p.memberId)).not.toContain('a');
    // An answer for a member removed after it was probed is dropped on arrival.
    policy.remove('c');
    late.resolve({ inFlight: 0, latencyMs: 0 });
    await settle();
    expect(policy.probes().map((p) => p.memberId)).not.toContain('c');
    prober.answerAll({});
    await settle();
  });

  it('removes removesPerPick answers per pick, the oldest and the worst in turn', async () => {
    const { policy, prober, clock } = setup({ probesPerPick: 5, removesPerPick: 1, maxReuse: 100, members: ['a', 'b', 'c', 'd', 'e'] });
    // First pick: empty pool, so the random fallback; it probes all five. Answers arrive a..e.
    policy.pick(0);
    const rows: Record<string, [number, number]> = { a: [1, 40], b: [1, 10], c: [1, 30], d: [9, 20], e: [1, 99] };
    for (const [i, id] of Object.keys(rows).entries()) {
      clock.set(i);
      prober.answer(id, ...rows[id]);
      await settle();
    }
    const ids = (): string[] => policy.probes().map((p) => p.memberId).sort();
    expect(ids()).toEqual(['a', 'b', 'c', 'd', 'e']);
    // Second pick (no answers arrive in between): b is the coolest cold answer; the oldest, a, goes.
    expect(idOf(policy.pick(1))).toBe('b');
    expect(ids()).toEqual(['b', 'c', 'd', 'e']);
    // Third: b again (RIF 2 is still cold); then the worst goes: d, the only hot one.
    expect(idOf(policy.pick(2))).toBe('b');
    expect(ids()).toEqual(['b', 'c', 'e']);
    // Fourth: b's RIF 3 is above the 0.84 quantile of {1, 1, 3} (2.36): hot. c wins; the oldest,
    // b, goes.
    expect(idOf(policy.pick(3))).toBe('c');
    expect(ids()).toEqual(['c', 'e']);
    // Fifth: c's RIF is now 2, above the quantile of {2, 1} (1.84): the slow but cold e wins.
    expect(idOf(policy.pick(4))).toBe('e');
    expect(ids()).toHaveLength(1);
    prober.answerAll({});
    await settle();
  });

  it('rejects bad options with ConfigError', () => {
    for (const options of [{ probesPerPick: -1 }, { maxPoolSize: 0 }, { maxReuse: 1.5 }, { qRif: 1.2 }, { maxProbeAgeMs: Number.NaN }, { removesPerPick: -2 }]) {
      expect(() => new PrequalPickPolicy({ random: Math.random }, options)).toThrow(ConfigError);
    }
  });
});
