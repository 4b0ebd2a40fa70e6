/**
 * A gateway's graceful shutdown (SIGTERM, SIGINT): stop taking work, let the requests in flight
 * finish within a deadline, cut the rest. The doors stop accepting first (readiness has already
 * turned false; a new connection is refused, a request on a kept-alive one gets 503 from fastify),
 * and `drain` resolves once every request they had taken has answered. Past the deadline `cut`
 * closes whatever is still open and the shutdown reports how many requests it cut, which the CLI
 * turns into exit code 1: a supervisor sees that the deadline was too short for the traffic.
 */

/** 30 s: Kubernetes' default terminationGracePeriodSeconds, so a pod's gateway drains before the SIGKILL. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;

export interface Drainable {
  /** Stops accepting; resolves once everything taken has answered (or been cut). */
  drain(): Promise<void>;
  /** Closes everything still open, at the deadline. */
  cut(): void;
  /** Requests taken and not yet answered. */
  inFlight(): number;
}

export interface ShutdownOutcome {
  /** Requests still in flight at the deadline, cut; 0 when everything finished in time. */
  cut: number;
  elapsedMs: number;
}

export async function drainWithin(doors: Drainable, timeoutMs: number): Promise<ShutdownOutcome> {
  const startedAt = Date.now();
  let cut = 0;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      cut = doors.inFlight();
      doors.cut();
      resolve();
    }, timeoutMs);
  });
  const drained = doors.drain();
  await Promise.race([drained, deadline]);
  clearTimeout(timer);
  // After a cut the doors still finish closing (sockets destroyed, handlers unwound).
  await drained;
  return { cut, elapsedMs: Date.now() - startedAt };
}

/** The error a stop rejects with when the deadline cut requests: the CLI prints it and exits 1. */
export class ShutdownCut extends Error {
  constructor(readonly outcome: ShutdownOutcome, timeoutMs: number) {
    super(`${outcome.cut} request(s) still in flight at the shutdown deadline (--shutdown-timeout-ms = ${timeoutMs}) were cut`);
    this.name = 'ShutdownCut';
  }
}
