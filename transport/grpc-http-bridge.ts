/**
 * A gRPC inference for a node that serves HTTP only (a static --backend such as Triton's HTTP
 * port, or a node that advertises no gRPC address): the ModelInferRequest is decoded here and sent
 * as the binary tensor extension, and the answer is encoded back into a ModelInferResponse. This
 * is the one path on which a gateway decodes tensors; a node with a gRPC door gets the bytes as
 * they came (grpc-forwarder.ts).
 */
import { asInferError, toHttpStatus } from '../core/errors.js';
import { encodeInferRequest, parseBinaryInferResponse, parseInferenceHeaderLength } from '../core/infer-binary.js';
import type { InferCall, WireAnswer } from '../core/infer-call.js';
import { decodeGrpcInferRequest, encodeGrpcInferResponse } from '../core/kserve-grpc-codec.js';
import { grpcErrorAnswer } from '../core/kserve-grpc-envelope.js';
import type { InferRequest } from '../core/tensor.js';

/** Sends a `kserve-http` call to the node and resolves with its answer (RemoteBackend's HTTP path). */
export type HttpInferSender = (call: InferCall, version: string) => Promise<WireAnswer>;

export async function inferGrpcOverHttp(call: InferCall, version: string, maxTensorElements: number, send: HttpInferSender): Promise<WireAnswer> {
  let request: InferRequest;
  try {
    // Not validated here: the node validates against its own metadata and says what is wrong.
    request = decodeGrpcInferRequest(call.payload.body, call.model, version, undefined, { maxTensorElements });
  } catch (err) {
    const error = asInferError(err);
    return grpcErrorAnswer(toHttpStatus(error.code), error.message);
  }
  const encoded = encodeInferRequest(request, { binaryOutputs: true });
  const answer = await send({
    ...call,
    payload: { format: 'kserve-http', body: encoded.body, headerLength: String(encoded.headerLength), contentType: encoded.contentType },
  }, version);
  const body = Buffer.from(answer.body.buffer, answer.body.byteOffset, answer.body.byteLength);
  if (answer.status !== 200) {
    const error = grpcErrorAnswer(answer.status, httpErrorMessage(answer.status, body));
    // The node's Retry-After goes on as the gRPC pushback.
    return answer.retryAfterMs === undefined ? error : { ...error, retryAfterMs: answer.retryAfterMs };
  }
  const response = parseBinaryInferResponse(body, parseInferenceHeaderLength(answer.headerLength));
  return { ...encodeGrpcInferResponse(response), modelVersion: answer.modelVersion ?? version };
}

/** `{"error": "<message>"}`, the protocol's error body; the status line when the body is not that. */
function httpErrorMessage(status: number, body: Buffer): string {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // Not the protocol's error shape.
  }
  return `backend answered HTTP ${status}`;
}
