/**
 * A gRPC inference seen from outside its tensors: the model it names, the version a gateway routed
 * it to, the stream frame around an answer, and the error form of an answer. Everything here reads
 * or writes a few top-level protobuf fields and leaves the tensors as bytes, so a gateway routes
 * and forwards ModelInfer messages without decoding them (core/kserve-grpc-codec.ts decodes, on
 * the node that runs the model).
 */
import { invalidArg } from './errors.js';
import type { WireAnswer } from './infer-call.js';
import { MalformedProtobuf, WIRE_LENGTH_DELIMITED, forEachField, lengthDelimitedField, lengthDelimitedHead } from './protobuf-wire.js';

export const GRPC_INFERENCE_SERVICE = 'inference.GRPCInferenceService';
export const MODEL_INFER_PATH = `/${GRPC_INFERENCE_SERVICE}/ModelInfer`;

/**
 * Trailer of an error status, with the error's status in the shared HTTP table (core/errors.ts).
 * It tells a gateway that the node answered the error itself (a status grpc-js makes up when no
 * answer came has none), and keeps statuses gRPC folds together (413 and 429) apart.
 */
export const HTTP_STATUS_TRAILER = 'infergate-http-status';

/**
 * Largest gRPC message either way unless configured (--grpc-max-message-bytes): 64 MiB (Triton's
 * input cap, and --max-body-bytes' default) plus 1 MiB for the protobuf around the tensors.
 * grpc-js's own default is 4 MiB.
 */
export const DEFAULT_GRPC_MAX_MESSAGE_BYTES = 65 * 1024 * 1024;

/**
 * HTTP/2 flow-control window a gRPC client of ours opens (grpc-js's `grpc-node.flow_control_window`):
 * with HTTP/2's default 64 KiB, a 4 MB answer waits on 64 window updates.
 */
export const GRPC_CLIENT_FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024;

/** The content type of a WireAnswer whose body is a serialized ModelInferResponse. */
export const GRPC_MESSAGE_CONTENT_TYPE = 'application/grpc+proto';
/** The content type of a WireAnswer that is a gRPC error: the body is the status message. */
export const GRPC_ERROR_CONTENT_TYPE = 'text/plain; charset=utf-8';

// ModelInferRequest and ModelInferResponse share these three field numbers.
const MODEL_NAME_FIELD = 1;
const MODEL_VERSION_FIELD = 2;
const ID_FIELD = 3;
// ModelStreamInferResponse
const STREAM_ERROR_MESSAGE_FIELD = 1;
const STREAM_INFER_RESPONSE_FIELD = 2;

/** What routing needs of a ModelInferRequest. */
export interface InferTarget {
  model: string;
  /** Undefined when the request leaves it empty: the version the model's policy serves by default. */
  version?: string;
  /** The client's id for the request, echoed in its response; undefined when empty. */
  id?: string;
}

/**
 * Reads model_name, model_version and id of a serialized ModelInferRequest, skipping its tensors.
 * As in any protobuf parser, the last occurrence of a field wins.
 */
export function peekInferTarget(message: Uint8Array): InferTarget {
  let model = '';
  let version = '';
  let id = '';
  const text = (start: number, end: number) => Buffer.from(message.buffer, message.byteOffset + start, end - start).toString('utf8');
  try {
    forEachField(message, ({ field, wireType, start, end }) => {
      if (wireType !== WIRE_LENGTH_DELIMITED) return;
      if (field === MODEL_NAME_FIELD) model = text(start, end);
      else if (field === MODEL_VERSION_FIELD) version = text(start, end);
      else if (field === ID_FIELD) id = text(start, end);
    });
  } catch (err) {
    if (err instanceof MalformedProtobuf) throw invalidArg(`malformed ModelInferRequest: ${err.message}`, 'malformed_request');
    throw err;
  }
  if (model === '') throw invalidArg('ModelInferRequest has no model_name', 'malformed_request');
  return { model, version: version === '' ? undefined : version, id: id === '' ? undefined : id };
}

/**
 * The request with its model_version set to `version`, by appending the field (the last occurrence
 * wins): what a gateway sends to the node, so that it runs the version the pool was chosen for.
 */
export function withModelVersion(message: Uint8Array, version: string): Buffer {
  const field = lengthDelimitedField(MODEL_VERSION_FIELD, Buffer.from(version, 'utf8'));
  return Buffer.concat([message, field], message.byteLength + field.length);
}

/** A ModelStreamInferResponse around a serialized ModelInferResponse. */
export function streamInferResponse(inferResponse: Uint8Array): Buffer {
  return lengthDelimitedField(STREAM_INFER_RESPONSE_FIELD, inferResponse);
}

/**
 * A ModelStreamInferResponse for a request that failed: its error_message, and an infer_response
 * naming the model and the request's id (when known) so a client can tell which request failed.
 */
export function streamErrorResponse(message: string, target?: InferTarget): Buffer {
  const parts = [lengthDelimitedField(STREAM_ERROR_MESSAGE_FIELD, Buffer.from(message, 'utf8'))];
  if (target) {
    const inner = [lengthDelimitedField(MODEL_NAME_FIELD, Buffer.from(target.model, 'utf8'))];
    if (target.id !== undefined) inner.push(lengthDelimitedField(ID_FIELD, Buffer.from(target.id, 'utf8')));
    const response = Buffer.concat(inner);
    parts.push(lengthDelimitedHead(STREAM_INFER_RESPONSE_FIELD, response.length), response);
  }
  return Buffer.concat(parts);
}

/** An error answer in gRPC form: `status` from the shared HTTP table, the message as the body. */
export function grpcErrorAnswer(status: number, message: string): WireAnswer {
  return { status, contentType: GRPC_ERROR_CONTENT_TYPE, body: Buffer.from(message, 'utf8') };
}

/** The status message of an error answer in gRPC form. */
export function grpcErrorMessage(answer: WireAnswer): string {
  return Buffer.from(answer.body.buffer, answer.body.byteOffset, answer.body.byteLength).toString('utf8');
}

/** gRPC's server pushback trailer (gRFC A6): milliseconds before the client should retry. */
export const RETRY_PUSHBACK_TRAILER = 'grpc-retry-pushback-ms';
