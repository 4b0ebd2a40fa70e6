/**
 * Backends given on the command line (`--backend URL[=weight]`): any KServe v2 server, Triton
 * included, that sends no heartbeats. A prober asks each one for readiness and its model index
 * every interval and feeds the answers to the registry as if they were heartbeats, so static and
 * heartbeating nodes share one membership path (and one eviction rule).
 */
import type { LoadReport } from '../core/load-report.js';
import type { LoadFigures } from '../core/load-header.js';
import type { KnownNode, Membership, MembershipStatus, RegisteredBackend } from './membership.js';
import type { NodeRegistry } from './registry.js';

/** Where a probe's report goes: the registry, or every worker of a gateway. */
export interface HeartbeatSink {
  heartbeat(report: LoadReport, staticWeight?: number): Promise<void>;
}

export const DEFAULT_PROBE_INTERVAL_MS = 1_000;

export interface StaticBackendSpec {
  url: string;
  weight: number;
}

/** `http://host:8000=3` → { url, weight: 3 }; weight defaults to 1. */
export function parseStaticBackend(spec: string): StaticBackendSpec {
  const match = /^(https?:\/\/[^=\s]+?)\/?(?:=([0-9]*\.?[0-9]+))?$/.exec(spec.trim());
  if (!match) throw new Error(`--backend expects URL[=weight] (e.g. http://10.0.0.5:8000=2), got '${spec}'`);
  const weight = match[2] === undefined ? 1 : Number(match[2]);
  if (!(weight > 0)) throw new Error(`--backend weight must be > 0, got '${match[2]}' in '${spec}'`);
  return { url: match[1], weight };
}

interface IndexEntry {
  name: string;
  version?: string;
  state?: string;
}

export class StaticBackendProber {
  #timer?: NodeJS.Timeout;
  readonly #probes: Array<{ spec: StaticBackendSpec; backend: RegisteredBackend }>;

  constructor(
    specs: StaticBackendSpec[],
    private readonly registry: HeartbeatSink,
    createBackend: (nodeId: string, url: string) => RegisteredBackend,
    private readonly log: (message: string) => void = () => {},
  ) {
    this.#probes = specs.map((spec) => ({ spec, backend: createBackend(`probe:${spec.url}`, spec.url) }));
  }

  async probeAll(): Promise<void> {
    await Promise.all(this.#probes.map((p) => this.#probe(p.spec, p.backend)));
  }

  start(intervalMs = DEFAULT_PROBE_INTERVAL_MS): void {
    void this.probeAll();
    this.#timer ??= setInterval(() => void this.probeAll(), intervalMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all(this.#probes.map((p) => p.backend.close()));
  }

  async #probe(spec: StaticBackendSpec, backend: RegisteredBackend): Promise<void> {
    try {
      const index = await backend.getJson<IndexEntry[]>('/v2/repository/index', 'POST');
      const versions = new Map<string, string[]>();
      for (const e of index) {
        if (e.state !== undefined && e.state !== 'READY') continue;
        const list = versions.get(e.name) ?? [];
        list.push(e.version || '1');
        versions.set(e.name, list);
      }
      const report: LoadReport = {
        nodeId: spec.url,
        url: spec.url,
        state: 'ready',
        cards: [],
        inFlight: 0,
        queueDepth: 0,
        slots: 0,
        utilization: 0,
        completedPerSec: 0,
        errorsPerSec: 0,
        serviceTimeMs: 0,
        latencyMs: 0,
        windowMs: 0,
        models: [...versions].map(([name, v]) => ({ name, versions: v })),
        sentAtMs: Date.now(),
      };
      await this.registry.heartbeat(report, spec.weight);
    } catch (err) {
      // No answer: the registry evicts the backend when its probes have failed for evictAfterMs.
      this.log(`static backend ${spec.url} probe failed: ${(err as Error).message}`);
    }
  }
}

/**
 * Static backends as a membership source: the prober feeds the heartbeat registry (which also
 * takes heartbeats from infergate nodes, and evicts a backend whose probes keep failing).
 */
export class StaticMembership implements Membership {
  readonly #since = Date.now();

  constructor(private readonly registry: NodeRegistry, private readonly prober: StaticBackendProber, private readonly intervalMs = DEFAULT_PROBE_INTERVAL_MS) {}

  nodes(): ReadonlyArray<KnownNode> {
    return this.registry.nodes();
  }

  noteLoad(nodeId: string, load: LoadFigures): void {
    this.registry.noteLoad(nodeId, load);
  }

  status(): MembershipStatus {
    return { source: 'static', state: 'live', since: this.#since, nodes: this.registry.nodes().length };
  }

  start(): void {
    this.registry.start();
    this.prober.start(this.intervalMs);
  }

  async close(): Promise<void> {
    await this.prober.close();
    await this.registry.close();
  }
}
