/**
 * Per-request cost of the API key check (service/access-control.ts `admit` + `release`): SHA-256
 * of the presented key and a constant-time compare with every stored digest, then the group, model,
 * rate and concurrency checks. Measured with 1, 10 and 100 keys in the table (the compare is
 * linear in it), for a key that matches, a wrong key, and no key (an anonymous group).
 * Run from the repository root: `node dist/bench/auth-cost.js`. Prints a markdown table.
 */
import { AccessControl } from '../service/access-control.js';
import { parseAccessTable } from '../service/access-table.js';

const OPS = 200_000;
const RUNS = 7;

function table(keys: number): AccessControl {
  const entries = Array.from({ length: keys }, (_, i) => ({
    name: `k${i}`, key: `bench-key-${i}-0123456789abcdef`, groups: ['inference'], models: ['identity'],
    rate_limit: { requests_per_second: 1e12, burst: 1e9 }, max_concurrent: 1_000,
  }));
  return new AccessControl(parseAccessTable(JSON.stringify({ keys: entries, anonymous: { groups: ['health'] } }), 'bench'));
}

/** Median ns per call over RUNS runs of OPS calls. */
function measure(call: () => void): number {
  for (let i = 0; i < OPS / 10; i++) call();
  const perOp: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < OPS; i++) call();
    perOp.push(Number(process.hrtime.bigint() - start) / OPS);
  }
  return perOp.sort((a, b) => a - b)[Math.floor(RUNS / 2)];
}

const rows = ['| keys in the table | matching key (last) | wrong key | no key (anonymous health) |', '|---:|---:|---:|---:|'];
for (const keys of [1, 10, 100]) {
  const access = table(keys);
  const lastKey = `bench-key-${keys - 1}-0123456789abcdef`;
  const inference = { group: 'inference', model: 'identity' } as const;
  const matching = measure(() => access.admit(lastKey, inference).release());
  const wrong = measure(() => {
    try {
      access.admit('not-a-key-0123456789abcdef', inference);
    } catch {
      // refused, as expected
    }
  });
  const anonymous = measure(() => access.admit(undefined, { group: 'health' }).release());
  rows.push(`| ${keys} | ${(matching / 1000).toFixed(2)} µs | ${(wrong / 1000).toFixed(2)} µs | ${(anonymous / 1000).toFixed(3)} µs |`);
}
console.log(`API key check, median of ${RUNS} runs × ${OPS} calls (node ${process.version}):\n`);
console.log(rows.join('\n'));
