import { describe, expect, it } from 'vitest';
import { Cancellation } from '../../core/cancellation.js';
import { TransportError } from '../../core/errors.js';
import type { ModelMetadata } from '../../core/model-metadata.js';
import type { InferCall, WireAnswer } from '../../core/infer-call.js';
import type { Backend } from '../../scheduler/backend.js';
import { PoolSet } from '../../scheduler/pool-set.js';
import type { MemberSpec } from '../../scheduler/pool.js';
import { Router } from '../../scheduler/router.js';
import { createRoutingPolicy } from '../../scheduler/routing-policy.js';

const METADATA: ModelMetadata = {
  name: 'm', versions: ['1'], platform: 'sim', maxBatchSize: 0,
  inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [-1] }],
  outputs: [{ name: 'OUTPUT0', datatype: 'FP32', shape: [-1] }],
};
const call = (): InferCall => ({
  model: 'm', requestId: 'r', deadlineMs: Number.MAX_SAFE_INTEGER, cancellation: new Cancellation(),
  payload: { format: 'kserve-http', body: Buffer.from('{}') },
});

/** A backend whose answers the test releases by hand. */
class HeldBackend implements Backend {
  readonly held: { reject: (err: Error) => void }[] = [];
  constructor(readonly id: string) {}
  infer(): Promise<WireAnswer> {
    return new Promise((_resolve, reject) => this.held.push({ reject }));
  }
  async close(): Promise<void> {}
}

class AnsweringBackend implements Backend {
  calls = 0;
  constructor(readonly id: string) {}
  async infer(): Promise<WireAnswer> {
    this.calls++;
    return { status: 200, contentType: 'application/json', body: Buffer.from('{}') };
  }
  async close(): Promise<void> {}
}

function spec(id: string, backend: Backend): MemberSpec {
  // One slot: the in-flight cap is the minimum, 4.
  return { id, nodeId: id, url: `http://${id}`, backend, capacity: 1, slots: 1 };
}

function setup() {
  const pools = new PoolSet(() => createRoutingPolicy('static', { slowStartWindowMs: 0 }));
  const pool = pools.getOrCreate('m', '1', METADATA);
  return { pools, pool, router: new Router(pools) };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('Router with members that leave while requests are in flight', () => {
  it('retries elsewhere when a node at its in-flight cap is evicted and its requests fail', async () => {
    const { pool, router } = setup();
    const gone = new HeldBackend('a');
    pool.upsert(spec('a', gone), 0);
    // Four requests fill a's cap: it sits out of the picker (eligible = false).
    const pending = Array.from({ length: 4 }, () => router.infer(call()));
    expect(pool.member('a')!.eligible).toBe(false);
    const b = new AnsweringBackend('b');
    pool.upsert(spec('b', b), 0);
    // The registry evicts a (heartbeats stopped) and closes its connections: every request it held
    // fails at the transport.
    pool.remove('a');
    for (const h of gone.held) h.reject(new TransportError('backend http://a: destroyed'));
    await expect(Promise.all(pending)).resolves.toHaveLength(4);
    expect(b.calls).toBe(4);
  });

  it('does not charge a failure of the old member to a node that rejoined under the same id', async () => {
    const { pool, router } = setup();
    const old = new HeldBackend('a');
    pool.upsert(spec('a', old), 0);
    const pending = router.infer(call());
    await flush();
    pool.remove('a');
    const b = new AnsweringBackend('b');
    pool.upsert(spec('b', b), 0);
    const rejoined = pool.upsert(spec('a', new AnsweringBackend('a')), 0);
    old.held[0].reject(new TransportError('backend http://a: destroyed'));
    await expect(pending).resolves.toBeDefined();
    expect(rejoined.isEjected(Date.now())).toBe(false);
    expect(rejoined.failures).toBe(0);
    expect(rejoined.inFlight).toBe(0);
  });
});
