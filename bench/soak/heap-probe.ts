/**
 * Loaded into the gateway by the soak bench (`NODE_OPTIONS=--import …/heap-probe.js`, with
 * INFERGATE_HEAP_PROBE_DIR set): once a second it writes this process's `process.memoryUsage()`
 * to `<dir>/<pid>.json`, so the bench can chart the V8 heap beside RSS without the gateway
 * exposing anything. Costs one unref'd timer; a process without the variable does nothing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HEAP_PROBE_DIR_ENV } from './process-memory.js';

const PROBE_INTERVAL_MS = 1_000;

const dir = process.env[HEAP_PROBE_DIR_ENV];
if (dir) {
  const file = join(dir, `${process.pid}.json`);
  const write = () => {
    try {
      writeFileSync(file, JSON.stringify({ atMs: Date.now(), ...process.memoryUsage() }));
    } catch {
      // The bench removed its directory: nothing left to report to.
    }
  };
  write();
  setInterval(write, PROBE_INTERVAL_MS).unref();
}
