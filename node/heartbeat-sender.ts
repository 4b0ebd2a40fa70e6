/**
 * Sends this node's load report to every gateway once per interval, and at once when its state
 * changes (a drain must reach the gateways before the next beat). One gateway being down does
 * not hold up the others.
 */
import { request } from 'undici';
import type { LoadReport } from '../core/load-report.js';

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000;
export const HEARTBEAT_TIMEOUT_MS = 1_000;
export const HEARTBEAT_PATH = '/infergate/heartbeat';
export const LEAVE_PATH = '/infergate/leave';

export class HeartbeatSender {
  #timer?: NodeJS.Timeout;
  #failures = new Map<string, number>();

  constructor(
    private readonly gateways: string[],
    private readonly buildReport: () => LoadReport,
    private readonly intervalMs = DEFAULT_HEARTBEAT_INTERVAL_MS,
    private readonly log: (message: string) => void = () => {},
  ) {}

  start(): void {
    void this.beat();
    this.#timer ??= setInterval(() => void this.beat(), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Sends one report to every gateway; resolves when all answered or timed out. */
  async beat(): Promise<void> {
    const report = this.buildReport();
    await Promise.all(this.gateways.map((g) => this.#post(g, HEARTBEAT_PATH, report)));
  }

  /** Tells every gateway this node is gone, so they drop it without waiting for eviction. */
  async leave(nodeId: string): Promise<void> {
    const sentAtMs = Date.now();
    await Promise.all(this.gateways.map((g) => this.#post(g, LEAVE_PATH, { nodeId, sentAtMs })));
  }

  async #post(gateway: string, path: string, body: unknown): Promise<void> {
    try {
      const response = await request(new URL(path, gateway), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        headersTimeout: HEARTBEAT_TIMEOUT_MS,
        bodyTimeout: HEARTBEAT_TIMEOUT_MS,
      });
      await response.body.dump();
      if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
      if (this.#failures.get(gateway)) this.log(`gateway ${gateway} reachable again`);
      this.#failures.set(gateway, 0);
    } catch (err) {
      const failures = (this.#failures.get(gateway) ?? 0) + 1;
      this.#failures.set(gateway, failures);
      // Log the first failure and then every tenth, not one line per second.
      if (failures === 1 || failures % 10 === 0) this.log(`heartbeat to ${gateway} failed (${failures}x): ${(err as Error).message}`);
    }
  }
}
