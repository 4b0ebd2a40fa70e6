/**
 * The routing bench as a script: `node dist/bench/routing.js [options]`, the same as
 * `infergate bench routing [options]` (see bench/routing/main.ts, --help).
 */
import { runRoutingBench } from './routing/main.js';

runRoutingBench(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`routing bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
