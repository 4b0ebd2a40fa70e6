/**
 * The soak and overload bench as a script: `node dist/bench/soak.js [--minutes 10] [--rate R]
 * [--out DIR] …` (see bench/soak/main.ts, --help).
 */
import { runSoakBench } from './soak/main.js';

runSoakBench(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`soak bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
