/**
 * A unary RPC from a function of its request: what it returns (or resolves to) is the response,
 * what it throws is the error status (status.ts).
 */
import type { ServerUnaryCall, handleUnaryCall } from '@grpc/grpc-js';
import { asInferError } from '../../core/errors.js';
import { grpcError } from './status.js';

export function unary<Request, Response>(answer: (request: Request, call: ServerUnaryCall<Request, Response>) => Response | Promise<Response>): handleUnaryCall<Request, Response> {
  return (call, callback) => {
    let result: Promise<Response>;
    try {
      result = Promise.resolve(answer(call.request, call));
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then((response) => callback(null, response), (err: unknown) => callback(grpcError(asInferError(err))));
  };
}
