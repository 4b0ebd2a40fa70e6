/**
 * CPU time a process (every thread of it: the event loop, libuv's pool, V8's helpers) has used,
 * read from Linux's /proc/<pid>/task/<tid>/schedstat, whose first field is on-CPU time in
 * nanoseconds: finer than /proc/<pid>/stat's clock ticks (10 ms), which a few thousand requests
 * of tens of microseconds each would not resolve. Linux only.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** On-CPU time of all threads of `pid`, in microseconds; threads that exit meanwhile are skipped. */
export function processCpuMicros(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ns / 1_000;
}
