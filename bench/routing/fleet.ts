/**
 * The processes of a routing run on loopback: one gateway and a fleet of SIMULATED backends, each
 * on a fixed port so that a node killed mid-run comes back at the same address, and the gateway on
 * a fixed port so that the nodes keep heartbeating to whichever gateway (policy) runs now. Between
 * runs the fleet is put back as it was: stopped nodes continued, dead ones restarted, faults reset.
 */
import { rmSync } from 'node:fs';
import {
  InfergateProcess,
  createSimModelsDir,
  freePort,
  httpJson,
  poolNodes,
  readCounter,

  waitFor,
  SIM_MODEL,
} from '../support/cluster-processes.js';
import { SLOTS_PER_NODE, type FleetNode, type NodeAction } from './scenarios.js';

const SIM_CARD_BY_SPEED: Record<FleetNode['speed'], string> = { 1: 'slow:1', 2: 'medium:1', 4: 'fast:1' };

export interface GatewayConfig {
  /** A routing policy name (`--policy`). */
  policy: string;
  /** `--queue-budget`: a number, or 'off' for no closed-loop guard. */
  queueBudget: string;
  extraArgs?: string[];
}

interface FleetMember {
  spec: FleetNode;
  port: number;
  process?: InfergateProcess;
  /** SIGSTOPped: alive, answering nothing. */
  stopped: boolean;
  /** Sent SIGTERM or SIGKILL: its process is on its way out (a drain can take a while). */
  leaving: boolean;
}

export class Fleet {
  readonly modelsDir: string;
  readonly #nodes = new Map<string, FleetMember>();
  #gateway?: InfergateProcess;
  /** Actions still running (a node starting takes a second or two), awaited before a reset. */
  readonly #pending = new Set<Promise<void>>();
  #gatewayPort = 0;
  #metricsPort = 0;

  constructor(readonly nodes: readonly FleetNode[], baseServiceMs: number) {
    this.modelsDir = createSimModelsDir({ serviceMs: baseServiceMs, instances: SLOTS_PER_NODE });
  }

  get gatewayUrl(): string {
    return `http://127.0.0.1:${this.#gatewayPort}`;
  }

  get metricsUrl(): string {
    return `http://127.0.0.1:${this.#metricsPort}`;
  }

  async init(): Promise<void> {
    this.#gatewayPort = await freePort();
    this.#metricsPort = await freePort();
    for (const spec of this.nodes) this.#nodes.set(spec.id, { spec, port: await freePort(), stopped: false, leaving: false });
  }

  /** Starts a gateway with this policy (the previous one is stopped first). */
  async startGateway(config: GatewayConfig): Promise<InfergateProcess> {
    await this.stopGateway();
    const args = [
      '--http-port', String(this.#gatewayPort), '--grpc-port', 'off', '--metrics-port', String(this.#metricsPort),
      '--host', '127.0.0.1', '--workers', '1', '--log-level', 'warn',
      '--policy', config.policy, '--queue-budget', config.queueBudget,
      ...(config.extraArgs ?? []),
    ];
    const gateway = new InfergateProcess('gateway', 'gateway', args, { url: this.gatewayUrl });
    this.#gateway = gateway;
    await waitFor('gateway to answer', async () => ((await httpJson(`${this.gatewayUrl}/v2/health/live`).catch(() => ({ status: 0 }))).status === 200 ? true : undefined), { timeoutMs: 20_000 });
    return gateway;
  }

  async stopGateway(): Promise<void> {
    const gateway = this.#gateway;
    this.#gateway = undefined;
    if (!gateway?.running) return;
    gateway.signal('SIGKILL');
    await gateway.exited;
  }

  /** Every node of the fleet running, fault-free, with nothing in flight; `absent` ones stopped. */
  async reset(absent: readonly string[] = []): Promise<void> {
    await Promise.allSettled([...this.#pending]);
    await Promise.all([...this.#nodes.keys()].map(async (id) => {
      const node = this.#nodes.get(id)!;
      if (absent.includes(id)) {
        if (node.stopped) node.process?.signal('SIGCONT');
        node.stopped = false;
        if (node.process?.running) {
          node.process.signal('SIGKILL');
          await node.process.exited;
        }
        return;
      }
      if (node.stopped) {
        node.process?.signal('SIGCONT');
        node.stopped = false;
      }
      if (!node.process?.running || node.leaving) await this.#start(id);
      await this.#setSim(id, { slowdown: 1, error_rate: 0 });
    }));
  }

  /** Waits until the gateway lists exactly `ids` ready in the model's pool. */
  async waitForPool(ids: readonly string[], timeoutMs = 20_000): Promise<void> {
    const wanted = [...ids].sort().join(',');
    await waitFor(`pool = {${wanted}}`, async () => {
      const nodes = await poolNodes(this.gatewayUrl, SIM_MODEL).catch(() => []);
      const ready = nodes.filter((n) => n.state === 'ready').map((n) => n.id).sort().join(',');
      return ready === wanted ? true : undefined;
    }, { timeoutMs });
  }

  /** Applies an action; the fleet remembers it until it is done, so a reset never races it. */
  apply(nodeId: string, action: NodeAction): Promise<void> {
    const done = this.#apply(nodeId, action).finally(() => this.#pending.delete(done));
    this.#pending.add(done);
    return done;
  }

  async #apply(nodeId: string, action: NodeAction): Promise<void> {
    const node = this.#nodes.get(nodeId);
    if (!node) throw new Error(`no node ${nodeId} in the fleet`);
    switch (action.kind) {
      case 'slowdown':
        return this.#setSim(nodeId, { slowdown: action.factor });
      case 'error-rate':
        return this.#setSim(nodeId, { error_rate: action.rate });
      case 'signal':
        if (action.signal === 'SIGSTOP') node.stopped = true;
        if (action.signal === 'SIGCONT') node.stopped = false;
        if (action.signal === 'SIGTERM' || action.signal === 'SIGKILL') node.leaving = true;
        node.process?.signal(action.signal);
        return;
      case 'start':
        if (node.process?.running && !node.leaving) return;
        await this.#start(nodeId);
        return;
    }
  }

  async retries(): Promise<number> {
    return readCounter(this.metricsUrl, 'infergate_retries_total').catch(() => NaN);
  }

  async close(): Promise<void> {
    await this.stopGateway();
    await Promise.all([...this.#nodes.values()].map(async (node) => {
      if (node.stopped) node.process?.signal('SIGCONT');
      if (node.process?.running) {
        node.process.signal('SIGKILL');
        await node.process.exited;
      }
    }));
    rmSync(this.modelsDir, { recursive: true, force: true });
  }

  /** Starts the node's process on its port, once the previous one (still draining, maybe) has gone. */
  async #start(nodeId: string): Promise<void> {
    const node = this.#nodes.get(nodeId)!;
    if (node.process?.running) {
      if (node.stopped) node.process.signal('SIGCONT');
      if (!node.leaving) node.process.signal('SIGKILL');
      await node.process.exited;
    }
    node.leaving = false;
    const args = [
      '--gateway', this.gatewayUrl, '--http-port', String(node.port), '--grpc-port', 'off', '--metrics-port', 'off',
      '--host', '127.0.0.1', '--node-id', nodeId, '--models', this.modelsDir,
      '--sim-cards', SIM_CARD_BY_SPEED[node.spec.speed], '--log-level', 'warn',
    ];
    node.process = new InfergateProcess(nodeId, 'backend', args, { url: `http://127.0.0.1:${node.port}` });
    node.stopped = false;
    await waitFor(`${nodeId} to answer`, async () => {
      if (!node.process!.running) throw new Error(`${nodeId} exited: ${node.process!.logs().slice(-5).join('\n')}`);
      const { status } = await httpJson(`${node.process!.url}/v2/health/ready`).catch(() => ({ status: 0 }));
      return status === 200 ? true : undefined;
    }, { timeoutMs: 20_000 });
  }

  async #setSim(nodeId: string, body: { slowdown?: number; error_rate?: number }): Promise<void> {
    const node = this.#nodes.get(nodeId)!;
    if (!node.process?.running || node.stopped) return;
    const { status } = await httpJson(`${node.process.url}/infergate/sim`, 'PUT', body);
    if (status !== 200) throw new Error(`PUT ${nodeId}/infergate/sim answered ${status}`);
  }
}


