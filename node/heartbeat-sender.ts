/**
 * Sends this node's load report to every gateway once per interval, and at once when its state
 * changes (a drain must reach the gateways before the next beat). One gateway being down does
 * not hold up the others. With a node secret every message is signed (core/node-signature.ts);
 * an https:// gateway is reached with the CA (and client certificate) given.
 */
import { Agent, request, type Dispatcher } from 'undici';
import type { LoadReport } from '../core/load-report.js';
import { NODE_ID_HEADER, NODE_SIGNATURE_HEADER, signNode } from '../core/node-signature.js';
import type { ClientTls } from '../core/tls-files.js';

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 1_000;
export const HEARTBEAT_TIMEOUT_MS = 1_000;
export const HEARTBEAT_PATH = '/infergate/heartbeat';
export const LEAVE_PATH = '/infergate/leave';

export interface HeartbeatSecurity {
  /** The fleet's node secret: every heartbeat and leave carries a signature made with it. */
  secret?: Buffer;
  /** Trust (and client certificate) for https:// gateways. */
  tls?: ClientTls;
}

export class HeartbeatSender {
  #timer?: NodeJS.Timeout;
  #failures = new Map<string, number>();
  readonly #dispatcher?: Dispatcher;
  readonly #secret?: Buffer;
  /** Signed times strictly grow, so a gateway's replay guard never refuses two beats in one millisecond. */
  #lastSignedMs = 0;

  constructor(
    private readonly gateways: string[],
    private readonly buildReport: () => LoadReport,
    private readonly intervalMs = DEFAULT_HEARTBEAT_INTERVAL_MS,
    private readonly log: (message: string) => void = () => {},
    security: HeartbeatSecurity = {},
  ) {
    this.#secret = security.secret;
    if (security.tls) this.#dispatcher = new Agent({ connect: { ...security.tls } });
  }

  start(): void {
    void this.beat();
    this.#timer ??= setInterval(() => void this.beat(), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Closes the connections to the gateways (after leave). */
  async close(): Promise<void> {
    this.stop();
    await this.#dispatcher?.close();
  }

  /** Sends one report to every gateway; resolves when all answered or timed out. */
  async beat(): Promise<void> {
    const report = this.buildReport();
    await Promise.all(this.gateways.map((g) => this.#post(g, HEARTBEAT_PATH, report.nodeId, report)));
  }

  /** Tells every gateway this node is gone, so they drop it without waiting for eviction. */
  async leave(nodeId: string): Promise<void> {
    const sentAtMs = Date.now();
    await Promise.all(this.gateways.map((g) => this.#post(g, LEAVE_PATH, nodeId, { nodeId, sentAtMs })));
  }

  async #post(gateway: string, path: string, nodeId: string, message: unknown): Promise<void> {
    const body = JSON.stringify(message);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#secret) {
      this.#lastSignedMs = Math.max(Date.now(), this.#lastSignedMs + 1);
      headers[NODE_ID_HEADER] = nodeId;
      headers[NODE_SIGNATURE_HEADER] = signNode(this.#secret, nodeId, this.#lastSignedMs, body);
    }
    try {
      const response = await request(new URL(path, gateway), {
        method: 'POST',
        headers,
        body,
        ...(this.#dispatcher ? { dispatcher: this.#dispatcher } : {}),
        headersTimeout: HEARTBEAT_TIMEOUT_MS,
        bodyTimeout: HEARTBEAT_TIMEOUT_MS,
      });
      if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}: ${(await response.body.text()).slice(0, 200)}`);
      await response.body.dump();
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
