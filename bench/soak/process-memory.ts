/**
 * The gateway's memory as the soak sees it from outside: RSS from /proc/<pid>/status (VmRSS) of
 * the process and every descendant (a gateway with --workers N is a primary and N workers), and the
 * V8 heap from the files the heap probe (heap-probe.ts) writes inside those processes.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../core/package-root.js';

/** The variable that tells heap-probe.js where to write. */
export const HEAP_PROBE_DIR_ENV = 'INFERGATE_HEAP_PROBE_DIR';

/** The built probe, or undefined before a build (then only RSS is sampled). */
export function heapProbePath(): string | undefined {
  const file = join(packageRoot(), 'dist', 'bench', 'soak', 'heap-probe.js');
  return existsSync(file) ? file : undefined;
}

/** The process and its descendants, from /proc/<pid>/task/<tid>/children. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number) => {
    out.push(p);
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      return; // gone
    }
    for (const tid of tasks) {
      let children = '';
      try {
        children = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const child of children.split(/\s+/).filter(Boolean)) visit(Number(child));
    }
  };
  visit(pid);
  return out;
}

/** VmRSS of one process in bytes; undefined once it has exited. */
export function residentBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Heap in use summed over the processes that have a probe file; undefined when none has. */
export function probedHeapBytes(probeDir: string, pids: readonly number[]): number | undefined {
  let total: number | undefined;
  for (const pid of pids) {
    try {
      const { heapUsed } = JSON.parse(readFileSync(join(probeDir, `${pid}.json`), 'utf8')) as { heapUsed?: unknown };
      if (typeof heapUsed === 'number') total = (total ?? 0) + heapUsed;
    } catch {
      // no probe file (yet) for this process, or caught mid-write: skip this reading
    }
  }
  return total;
}

/** One reading of a process tree: RSS summed, heap summed where probed; undefined when the root is gone. */
export function readTreeMemory(pid: number, probeDir?: string): { rssBytes: number; heapUsedBytes?: number } | undefined {
  const pids = processTree(pid);
  let rss = 0;
  let any = false;
  for (const p of pids) {
    const bytes = residentBytes(p);
    if (bytes !== undefined) {
      rss += bytes;
      any = true;
    }
  }
  if (!any) return undefined;
  const heap = probeDir ? probedHeapBytes(probeDir, pids) : undefined;
  return heap === undefined ? { rssBytes: rss } : { rssBytes: rss, heapUsedBytes: heap };
}
