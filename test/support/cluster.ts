/**
 * Test-side glue for the real-process cluster tests (test/cluster/). The processes, load generator
 * and pool sampler live in bench/support/cluster-processes.ts, which tsc builds with the benches;
 * this file adds what only tests need:
 *
 * - one cluster at a time across vitest workers. The cluster tests measure timings (eviction,
 *   drain, last request after a kill) on a 2-core machine; two clusters at once would share the
 *   cores and measure each other. A FIFO queue of files in the temp dir serializes them: each
 *   test file queues in beforeAll and leaves in afterAll, so waiting counts against the hook
 *   timeout, never against a test's 30 s.
 * - cleanup: every Cluster made through `clusterTest()` is killed in afterEach, failed test or not.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import {
  Cluster, closeOperatorClients, sleep, waitForNodes, type GatewayOptions, type GatewayProcess, type InfergateProcess,
} from '../../bench/support/cluster-processes.js';

export * from '../../bench/support/cluster-processes.js';

const QUEUE_DIR = path.join(tmpdir(), 'infergate-cluster-tests.queue');
/** Longest a test file waits for its turn: every cluster test file before it (the routing smoke test takes ~2.5 min) runs first. */
export const CLUSTER_QUEUE_TIMEOUT_MS = 600_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Waits until this ticket is the oldest in the queue whose owner still runs, then returns a
 * release function. Tickets of processes that died (a killed test run) are removed on the way.
 */
export async function takeClusterTurn(timeoutMs = CLUSTER_QUEUE_TIMEOUT_MS): Promise<() => void> {
  mkdirSync(QUEUE_DIR, { recursive: true });
  // Zero-padded time first, so names sort in arrival order; pid to find stale tickets.
  const name = `${String(Date.now()).padStart(15, '0')}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const ticket = path.join(QUEUE_DIR, name);
  writeFileSync(ticket, '');
  const release = () => rmSync(ticket, { force: true });
  process.once('exit', release);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ahead = readdirSync(QUEUE_DIR).sort().filter((other) => other < name);
    let waiting = false;
    for (const other of ahead) {
      const pid = Number(other.split('-')[1]);
      if (Number.isInteger(pid) && alive(pid)) waiting = true;
      else rmSync(path.join(QUEUE_DIR, other), { force: true });
    }
    if (!waiting) return release;
    if (Date.now() > deadline) {
      release();
      throw new Error(`no turn for a cluster test within ${timeoutMs} ms (queue ${QUEUE_DIR})`);
    }
    await sleep(100);
  }
}

/**
 * Registers the hooks of a cluster test file and returns a factory: clusters it makes are closed
 * (every child killed, temp models removed) after each test.
 */
export function clusterTest(): (options?: ConstructorParameters<typeof Cluster>[0]) => Cluster {
  let release: (() => void) | undefined;
  const clusters: Cluster[] = [];
  beforeAll(async () => {
    release = await takeClusterTurn();
  }, CLUSTER_QUEUE_TIMEOUT_MS + 5_000);
  afterEach(async () => {
    await Promise.all(clusters.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await Promise.all(clusters.splice(0).map((c) => c.close()));
    await closeOperatorClients();
    release?.();
  });
  return (options) => {
    const cluster = new Cluster(options);
    clusters.push(cluster);
    return cluster;
  };
}

/** Percentage points, one decimal, for messages. */
export function pct(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** One line of measured figures in the test output (the numbers behind the assertions). */
export function note(line: string): void {
  console.log(`[cluster] ${line}`);
}

/** The models the real-node cluster tests serve. */
export const REAL_NODE_MODELS = ['identity', 'add_sub'];

/**
 * A gateway (slow start off, plus `gatewayOptions`) and one node `n1` serving the real identity and
 * add_sub models, both pools ready. The caller closes the cluster.
 */
export async function gatewayWithRealNode(gatewayOptions: GatewayOptions = {}): Promise<{ cluster: Cluster; gateway: GatewayProcess; node: InfergateProcess }> {
  const cluster = new Cluster({ bundled: REAL_NODE_MODELS });
  try {
    const gateway = await cluster.startGateway({ slowStartMs: 0, ...gatewayOptions });
    const node = await cluster.startBackend({ nodeId: 'n1' });
    for (const model of REAL_NODE_MODELS) await waitForNodes(gateway.url, ['n1'], { model });
    return { cluster, gateway, node };
  } catch (err) {
    await cluster.close();
    throw err;
  }
}
