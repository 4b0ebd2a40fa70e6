/**
 * ModelInfer and ModelStreamInfer: the ModelInferRequest bytes as they came go to the inference
 * service as a `kserve-grpc` payload, routed by the model name and version read from them (only the
 * node that runs the model decodes the tensors), and the answer's bytes go back as they are. A
 * call's gRPC deadline is its request's timeout (capped by --request-timeout-ms), and a call the
 * client cancels cancels its request, so a queued request leaves its queue and never runs.
 */
import { randomUUID } from 'node:crypto';
import { Metadata, type ServerDuplexStream, type ServerUnaryCall, type handleBidiStreamingCall, type handleUnaryCall } from '@grpc/grpc-js';
import { LOAD_HEADER } from '../../core/load-header.js';
import { Cancellation } from '../../core/cancellation.js';
import { asInferError, clientClosed, deadlineExceeded, type InferError } from '../../core/errors.js';
import { REQUEST_ID } from '../../core/http-headers.js';
import type { WireAnswer } from '../../core/infer-call.js';
import {
  grpcErrorMessage, peekInferTarget, streamErrorResponse, streamInferResponse, type InferTarget,
} from '../../core/kserve-grpc-envelope.js';
import type { InferenceService } from '../../service/inference-service.js';
import { grpcError, grpcErrorOfAnswer } from './status.js';

/** When the call must be answered (ms on the Date.now() clock); undefined: the client set no deadline. */
function deadlineOf(call: ServerUnaryCall<unknown, unknown> | ServerDuplexStream<unknown, unknown>): number | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}

function timeoutOf(deadlineMs: number | undefined): number | undefined {
  return deadlineMs === undefined ? undefined : Math.max(0, deadlineMs - Date.now());
}

/** Why a call ended early: its deadline passed (grpc-js cancels the call then too), or the client cancelled it. */
function cancelReason(deadlineMs: number | undefined): InferError {
  return deadlineMs !== undefined && Date.now() >= deadlineMs ? deadlineExceeded() : clientClosed();
}

function requestIdOf(metadata: Metadata): string | undefined {
  const value = metadata.get(REQUEST_ID)[0];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** One inference through the service; rejects with an InferError (a malformed message included). */
function infer(
  service: InferenceService,
  message: Buffer,
  target: InferTarget,
  requestId: string,
  timeoutMs: number | undefined,
  cancellation: Cancellation,
): Promise<WireAnswer> {
  try {
    return service.infer({
      model: target.model,
      version: target.version,
      requestId,
      timeoutMs,
      cancellation,
      payload: { format: 'kserve-grpc', body: message },
    });
  } catch (err) {
    return Promise.reject(err);
  }
}

/** `loadHeader`: a backend's load figures (core/load-header.ts), sent as trailing metadata of every answer. */
function loadTrailer(value: string): Metadata {
  const trailer = new Metadata();
  trailer.set(LOAD_HEADER, value);
  return trailer;
}

export function modelInferHandler(service: InferenceService, loadHeader?: () => string): handleUnaryCall<Buffer, Buffer> {
  return (call, callback) => {
    const deadlineMs = deadlineOf(call);
    const cancellation = new Cancellation();
    let answered = false;
    // grpc-js also reports a call as cancelled when its stream closes after the answer: not a cancel.
    call.once('cancelled', () => {
      if (!answered) cancellation.cancel(cancelReason(deadlineMs));
    });
    let target: InferTarget;
    try {
      target = peekInferTarget(call.request);
    } catch (err) {
      callback(grpcError(asInferError(err)));
      return;
    }
    infer(service, call.request, target, requestIdOf(call.metadata) ?? randomUUID(), timeoutOf(deadlineMs), cancellation).then((answer) => {
      answered = true;
      if (answer.status < 400) callback(null, asBuffer(answer.body), loadHeader && loadTrailer(loadHeader()));
      else callback(grpcErrorOfAnswer(answer));
    }, (err: unknown) => {
      answered = true;
      callback(grpcError(asInferError(err)));
    });
  };
}

/**
 * Each request on the stream is one inference of its own; its response is one
 * ModelStreamInferResponse, written in the order the requests came (so a client may match them by
 * position as well as by id). A failed request answers with error_message and the stream goes
 * on. The stream's deadline bounds every request on it; cancelling the stream cancels them all.
 */
export function modelStreamInferHandler(service: InferenceService, guard?: StreamRequestGuard): handleBidiStreamingCall<Buffer, Buffer> {
  return (call) => {
    const deadlineMs = deadlineOf(call);
    const streamRequestId = requestIdOf(call.metadata);
    const open = new Set<Cancellation>();
    let ended = false;
    let received = 0;
    let written: Promise<void> = Promise.resolve();
    call.once('cancelled', () => {
      ended = true;
      const reason = cancelReason(deadlineMs);
      for (const cancellation of open) cancellation.cancel(reason);
      open.clear();
    });
    call.on('error', () => {
      ended = true;
    });
    call.on('data', (message: Buffer) => {
      const requestId = streamRequestId === undefined ? randomUUID() : `${streamRequestId}.${received}`;
      received++;
      const cancellation = new Cancellation();
      open.add(cancellation);
      const frame = streamFrame(service, message, requestId, timeoutOf(deadlineMs), cancellation, guard && ((target) => guard(call.metadata, target)));
      void frame.then(() => open.delete(cancellation));
      written = written.then(() => frame).then((bytes) => {
        if (!ended) call.write(bytes);
      });
    });
    call.on('end', () => {
      void written.then(() => {
        if (ended) return;
        ended = true;
        call.end();
      });
    });
  };
}

/**
 * Admits one request of a stream (API keys, gateway/grpc/auth.ts): returns its release, or throws
 * the InferError that refuses it (the request then answers with error_message, like any failure).
 */
export type StreamRequestGuard = (metadata: Metadata, target: InferTarget) => () => void;

/** The ModelStreamInferResponse for one request on a stream; never rejects. */
function streamFrame(
  service: InferenceService, message: Buffer, requestId: string, timeoutMs: number | undefined, cancellation: Cancellation,
  admit?: (target: InferTarget) => () => void,
): Promise<Buffer> {
  let target: InferTarget;
  let release: (() => void) | undefined;
  try {
    target = peekInferTarget(message);
  } catch (err) {
    return Promise.resolve(streamErrorResponse(asInferError(err).message));
  }
  try {
    release = admit?.(target);
  } catch (err) {
    return Promise.resolve(streamErrorResponse(asInferError(err).message, target));
  }
  const frame = infer(service, message, target, requestId, timeoutMs, cancellation).then(
    (answer) => (answer.status < 400 ? streamInferResponse(answer.body) : streamErrorResponse(grpcErrorMessage(answer), target)),
    (err: unknown) => streamErrorResponse(asInferError(err).message, target),
  );
  return release ? frame.finally(release) : frame;
}
