/**
 * A node's answer to a load probe (`GET /infergate/probe`): what a probing pick policy (Prequal)
 * compares nodes by. Cheaper and fresher than a load report: it is asked per request, not per
 * second.
 */
export interface LoadProbe {
  /** Requests the node holds now (queued + executing), from every gateway. */
  inFlight: number;
  /** The node's estimate of the latency of a request accepted now, in ms. */
  latencyMs: number;
}

/** The wire form of a probe answer (JSON, snake_case as the rest of the operator API). */
export interface LoadProbeBody {
  in_flight: number;
  latency_ms: number;
}

export function loadProbeBody(probe: LoadProbe): LoadProbeBody {
  return { in_flight: probe.inFlight, latency_ms: probe.latencyMs };
}

/** Parses a probe answer; throws on anything that is not two finite numbers ≥ 0. */
export function parseLoadProbe(body: unknown): LoadProbe {
  const b = body as Partial<LoadProbeBody> | null;
  const inFlight = b?.in_flight;
  const latencyMs = b?.latency_ms;
  if (typeof inFlight !== 'number' || !(inFlight >= 0) || typeof latencyMs !== 'number' || !(latencyMs >= 0) || !Number.isFinite(latencyMs)) {
    throw new Error(`malformed load probe answer: ${JSON.stringify(body)?.slice(0, 200)}`);
  }
  return { inFlight, latencyMs };
}
