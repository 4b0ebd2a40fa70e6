/**
 * The core service over a scripted target (a unit-test double for a node or a pool): deadline,
 * cancellation, metrics, and where failures of the server itself are reported.
 */
import { describe, expect, it } from 'vitest';
import { Cancellation } from '../../core/cancellation.js';
import { InferError, invalidArg } from '../../core/errors.js';
import type { InferCall, WireAnswer } from '../../core/infer-call.js';
import { InferenceService, type ServiceRequest } from '../../service/inference-service.js';
import { Metrics } from '../../service/metrics.js';
import type { ServingTarget } from '../../service/serving-target.js';

const ANSWER: WireAnswer = { status: 200, contentType: 'application/json', body: Buffer.from('{}'), modelVersion: '1' };

function serviceOver(infer: (call: InferCall) => Promise<WireAnswer>, requestTimeoutMs = 60_000) {
  const target: ServingTarget = {
    metadata: () => { throw new Error('unused'); },
    modelReady: () => true,
    ready: () => true,
    config: async () => ({}),
    index: () => [],
    statistics: () => [],
    infer,
  };
  const errors: string[] = [];
  const metrics = new Metrics({ processMetrics: false });
  const service = new InferenceService({ target, version: '0', requestTimeoutMs, started: () => true, metrics, logError: (m) => errors.push(m) });
  return { service, errors, metrics };
}

const request = (over: Partial<ServiceRequest> = {}): ServiceRequest => ({
  model: 'm', requestId: 'r1', cancellation: new Cancellation(), payload: { format: 'kserve-http', body: Buffer.alloc(0) }, ...over,
});

describe('InferenceService', () => {
  it('gives the target the client\'s deadline, capped by --request-timeout-ms', async () => {
    const seen: number[] = [];
    const { service } = serviceOver(async (call) => { seen.push(call.deadlineMs - Date.now()); return ANSWER; }, 1_000);
    await service.infer(request({ timeoutMs: 200 }));
    await service.infer(request({ timeoutMs: 50_000 }));
    await service.infer(request());
    expect(seen[0]).toBeGreaterThan(150);
    expect(seen[0]).toBeLessThanOrEqual(200);
    expect(seen[1]).toBeLessThanOrEqual(1_000);
    expect(seen[1]).toBeGreaterThan(900);
    expect(seen[2]).toBeGreaterThan(900);
  });

  it('cancels the request at its deadline with DEADLINE_EXCEEDED', async () => {
    let cancelledWith: string | undefined;
    const { service } = serviceOver((call) => new Promise((_, reject) => call.cancellation.onCancel((reason) => {
      cancelledWith = reason.code;
      reject(reason);
    })));
    await expect(service.infer(request({ timeoutMs: 20 }))).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect(cancelledWith).toBe('DEADLINE_EXCEEDED');
  });

  it('reports a failure of the server itself, not a client\'s mistake, and counts both by reason', async () => {
    const { service, errors, metrics } = serviceOver(async () => { throw new Error('picker bug'); });
    await expect(service.infer(request())).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(errors).toEqual([expect.stringContaining('picker bug')]);
    const client = serviceOver(async () => { throw invalidArg('bad input', 'unknown_input'); });
    await expect(client.service.infer(request())).rejects.toBeInstanceOf(InferError);
    expect(client.errors).toEqual([]);
    expect(await client.metrics.registry.metrics()).toMatch(/infergate_request_failure_total\{model="m",version="",reason="unknown_input"\} 1/);
  });

  it('counts a node\'s error answer under backend_<status>', async () => {
    const { service, metrics } = serviceOver(async () => ({ ...ANSWER, status: 400 }));
    expect((await service.infer(request())).status).toBe(400);
    expect(await metrics.registry.metrics()).toMatch(/infergate_request_failure_total\{model="m",version="1",reason="backend_400"\} 1/);
  });
});
