/**
 * The load figures a node puts on every response (core/load-header.ts). Rates are over a sliding
 * window of WINDOW_MS to 2 × WINDOW_MS: the base snapshot moves forward one step at a time, so
 * every answer describes about the last second or two, whoever asks and however often, and asking
 * closes no window (the heartbeat reporter keeps its own).
 */
import { formatLoadHeader, type LoadFigures } from '../core/load-header.js';
import type { NodeState } from '../core/load-report.js';
import { loadWindow, type LoadCounters, type LoadMeter } from './load-meter.js';

export const RESPONSE_LOAD_WINDOW_MS = 1_000;

export class ResponseLoad {
  #base: LoadCounters;
  #next: LoadCounters;

  constructor(
    private readonly meter: LoadMeter,
    private readonly slots: () => number,
    private readonly state: () => NodeState,
    private readonly windowMs = RESPONSE_LOAD_WINDOW_MS,
  ) {
    this.#base = meter.snapshot();
    this.#next = this.#base;
  }

  figures(): LoadFigures {
    const now = this.meter.snapshot();
    if (now.atMs - this.#next.atMs >= this.windowMs) {
      // Slide: the window now starts where the last step began.
      this.#base = this.#next;
      this.#next = now;
    }
    const slots = this.slots();
    return {
      inFlight: this.meter.inFlight,
      queueDepth: this.meter.queueDepth,
      slots,
      ...loadWindow(this.#base, now, slots),
      state: this.state(),
    };
  }

  header(): string {
    return formatLoadHeader(this.figures());
  }
}
