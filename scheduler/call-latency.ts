/**
 * What this gateway sees of one node's speed, per call, between weight updates: a peak-sensitive
 * moving average of the service time its answered calls took, and the age of its oldest
 * unanswered call. Weights move once per interval, from the node's own reports; a node that slows
 * down in between shows it here first, on the first late answer or even before it (a call older
 * than the estimate already says the estimate is too low). The delay check (pool.ts) reads it.
 *
 * A call's latency counts queueing behind the calls ahead of it on the node; each sample is scaled
 * by slots / max(slots, inFlight + 1) at its pick, so a node that is only busy does not look slow.
 *
 * Peak-sensitive (Finagle's and Linkerd's peak EWMA): a sample above the estimate replaces it at
 * once; a lower one pulls it down with weight 1 − e^(−Δt/decayMs), Δt the time since the previous
 * sample, so a node that was rarely sampled (the delay check avoids it) moves fully to what its
 * next answer shows.
 */

/** Time constant of the decay towards lower samples. */
export const DEFAULT_LATENCY_DECAY_MS = 250;

/** One unanswered call: when it was picked and how its latency scales to a service time. */
export interface OutstandingCall {
  readonly pickedAtMs: number;
  readonly scale: number;
}

export class CallLatency {
  #estimateMs: number | undefined;
  #sampledAtMs = -Infinity;
  readonly #outstanding = new Set<OutstandingCall>();
  /** The first of #outstanding, cached: read on every pick, changed only when it ends. */
  #oldest: OutstandingCall | undefined;

  constructor(private readonly decayMs = DEFAULT_LATENCY_DECAY_MS) {}

  /** A call picked at `nowMs` with `inFlight` calls already on the node, which runs `slots` at once. */
  begin(nowMs: number, inFlight: number, slots: number | undefined): OutstandingCall {
    const s = slots !== undefined && slots >= 1 ? slots : 1;
    const call: OutstandingCall = { pickedAtMs: nowMs, scale: s / Math.max(s, Math.max(inFlight, 0) + 1) };
    this.#outstanding.add(call);
    this.#oldest ??= call;
    return call;
  }

  /** Ends a call; `answered`: it ran and answered (its latency is a sample), else it only leaves. */
  end(call: OutstandingCall, nowMs: number, answered: boolean): void {
    if (!this.#outstanding.delete(call)) return;
    if (call === this.#oldest) this.#oldest = this.#outstanding.values().next().value;
    if (answered) this.#sample(Math.max(0, nowMs - call.pickedAtMs) * call.scale, nowMs);
  }

  /** Last sampled estimate only (no outstanding calls counted); undefined before the first answer. */
  get sampledMs(): number | undefined {
    return this.#estimateMs;
  }

  /**
   * The node's service time as seen now: the sampled estimate, raised to what the oldest
   * unanswered call has already taken. Undefined until the first answer (an age alone says
   * nothing about a node never measured).
   */
  estimateMs(nowMs: number): number | undefined {
    const sampled = this.#estimateMs;
    if (sampled === undefined) return undefined;
    const oldest = this.#oldest;
    if (oldest === undefined) return sampled;
    return Math.max(sampled, (nowMs - oldest.pickedAtMs) * oldest.scale);
  }

  #sample(serviceMs: number, nowMs: number): void {
    const current = this.#estimateMs;
    if (current === undefined || serviceMs >= current) {
      this.#estimateMs = serviceMs;
    } else {
      const keep = Math.exp(-Math.max(0, nowMs - this.#sampledAtMs) / this.decayMs);
      this.#estimateMs = current * keep + serviceMs * (1 - keep);
    }
    this.#sampledAtMs = nowMs;
  }
}
