/**
 * A backend's membership in etcd: its record (id, HTTP and gRPC URLs, cards, slots, models and
 * versions, state) under `<prefix>nodes/<id>`, bound to a lease of a few seconds that the client
 * keeps alive. If the node dies, the lease expires and every gateway's watch sees the key go. The
 * record is put again when what it says changes (a model loaded, a drain), never for load: load
 * travels on responses (core/load-header.ts), so etcd sees a write per change, not per second.
 *
 * With a node secret the record carries a signature over its content (core/node-signature.ts), so
 * a gateway holding the secret can tell it from a record any other etcd writer put there.
 *
 * etcd down: the node keeps serving; it retries until etcd answers and registers again under a
 * new lease (its old one has expired meanwhile or soon will, and the key moves to the new one).
 */
import type { Etcd3, Lease } from 'etcd3';
import type { LoadReport } from '../core/load-report.js';
import { connectEtcd } from './etcd-client.js';
import { signRecord } from '../core/node-signature.js';
import { nodeKey, DEFAULT_LEASE_TTL_S, ETCD_MAX_RETRY_MS, type EtcdSettings } from '../core/etcd-settings.js';

/** How often the record is compared with what the node would write now. */
export const RECORD_CHECK_INTERVAL_MS = 1_000;
/** Longest a drain mark or a revoke waits for etcd before the node goes on without it. */
export const ETCD_STEP_TIMEOUT_MS = 2_000;

export class EtcdRegistrar {
  readonly #client: Etcd3;
  readonly #key: string;
  readonly nodeId: string;
  #lease?: Lease;
  #written?: string;
  #timer?: NodeJS.Timeout;
  #busy?: Promise<void>;
  #failures = 0;
  #closed = false;

  constructor(
    settings: EtcdSettings,
    nodeId: string,
    /** The node's record: a load report whose load figures the gateways ignore. */
    private readonly record: () => LoadReport,
    private readonly ttlS = DEFAULT_LEASE_TTL_S,
    private readonly log: (message: string) => void = () => {},
    /** The fleet's node secret; undefined: the record goes unsigned. */
    private readonly secret?: Buffer,
  ) {
    this.nodeId = nodeId;
    this.#client = connectEtcd(settings);
    this.#key = nodeKey(settings.prefix, nodeId);
  }

  /** Registers (or keeps trying in the background) and then keeps the record current. */
  async start(): Promise<void> {
    await this.sync();
    this.#timer ??= setInterval(() => void this.sync(), RECORD_CHECK_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Whether the record as etcd has it is current (for logs and tests). */
  get registered(): boolean {
    return this.#lease !== undefined && this.#written !== undefined;
  }

  /** Writes the record if it changed, registering under a new lease if there is none. One at a time. */
  sync(): Promise<void> {
    this.#busy ??= this.#sync().finally(() => {
      this.#busy = undefined;
    });
    return this.#busy;
  }

  /** SIGTERM, step 1: the record says draining now (every gateway's watch sees it). */
  async markDraining(): Promise<void> {
    await this.#busy;
    await withTimeout(this.sync(), ETCD_STEP_TIMEOUT_MS).catch(() => {
      this.log('etcd: drain mark not written in time; gateways see the drain on responses instead');
    });
  }

  /** SIGTERM, last step: revokes the lease, so the record goes at once; then closes the client. */
  async leave(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#busy;
    if (this.#lease) await withTimeout(this.#lease.revoke(), ETCD_STEP_TIMEOUT_MS).catch((err) => this.log(`etcd: revoke failed (${(err as Error).message}); the record expires with its lease`));
    this.#client.close();
  }

  async #sync(): Promise<void> {
    if (this.#closed) return;
    const report = this.record();
    const text = recordText(report);
    if (this.#lease && text === this.#written) return;
    try {
      if (!this.#lease) {
        const lease = this.#client.lease(this.ttlS);
        lease.on('lost', (err) => {
          if (this.#lease !== lease || this.#closed) return;
          // Expired while etcd was out of reach: register again on the next check.
          this.log(`etcd: lease lost (${err.message}); registering again when etcd answers`);
          this.#lease = undefined;
          this.#written = undefined;
        });
        try {
          await lease.grant();
        } catch (err) {
          lease.release();
          throw err;
        }
        this.#lease = lease;
      }
      const now = Date.now();
      const value = JSON.stringify({ ...report, sentAtMs: now });
      await this.#lease.put(this.#key).value(this.secret ? signRecord(this.secret, this.nodeId, value, now) : value);
      this.#written = text;
      if (this.#failures > 0) this.log(`etcd: registered again after ${this.#failures} failed tries`);
      this.#failures = 0;
    } catch (err) {
      this.#failures++;
      if (this.#failures === 1 || this.#failures % 10 === 0) {
        this.log(`etcd: registration failed (${this.#failures}x, retrying every ${ETCD_MAX_RETRY_MS} ms): ${(err as Error).message}`);
      }
    }
  }
}

/** What the record says, without its clock: a change here is worth a write. */
function recordText(report: LoadReport): string {
  const { sentAtMs: _sentAtMs, ...rest } = report;
  return JSON.stringify(rest);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from etcd within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
