/**
 * Client Send and Client Recv, perf_analyzer's two client-side columns: the time to build and
 * encode a request, and to decode its answer. The client library does both inside one `infer`
 * call and exposes no split, so the bench times the same functions the library calls, on the
 * run's own request and on a real answer of the model (re-encoded in the wire form the server
 * sends for this protocol), in a loop before the load starts: a mean per request, not a per-request
 * measurement, and taken on an idle client.
 */
import type { InferResult } from '../../client/http-client.js';
import { toTensor, type TensorInput } from '../../client/client-tensors.js';
import { blobToTensorData, encodeInferRequest, encodeInferResponse, parseBinaryInferResponse, tensorToBlob } from '../../core/infer-binary.js';
import { failResponse, inferRequestToJsonText } from '../../core/infer-json.js';
import { inferMessageTypes } from '../../core/kserve-grpc-proto.js';
import type { InferRequest, InferResponse } from '../../core/tensor.js';

export interface CodecTiming {
  sendUs: number;
  recvUs: number;
}

/** Each side is timed for at least this many runs and this long, whichever takes more. */
export const CODEC_TIMING_MIN_RUNS = 20;
export const CODEC_TIMING_MIN_MS = 25;

export type Wire = { protocol: 'grpc' } | { protocol: 'http'; binary: boolean };

export function measureCodec(wire: Wire, model: string, version: string | undefined, inputs: TensorInput[], answer: InferResult): CodecTiming {
  const encode = encoder(wire, model, version, inputs);
  const decode = decoder(wire, answer);
  return { sendUs: meanUs(encode), recvUs: meanUs(decode) };
}

function meanUs(work: () => unknown): number {
  work(); // first run outside the timing: lazy loads (protobuf types) and JIT
  let runs = 0;
  const start = performance.now();
  let elapsed = 0;
  while (runs < CODEC_TIMING_MIN_RUNS || elapsed < CODEC_TIMING_MIN_MS) {
    work();
    runs++;
    elapsed = performance.now() - start;
  }
  return (elapsed * 1000) / runs;
}

/** What the client library does from `infer(model, inputs)` to the bytes it sends. */
function encoder(wire: Wire, model: string, version: string | undefined, inputs: TensorInput[]): () => unknown {
  if (wire.protocol === 'grpc') {
    return () => {
      const tensors = inputs.map(toTensor);
      return inferMessageTypes().request.encode({
        model_name: model,
        model_version: version ?? '',
        id: '',
        inputs: tensors.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
        outputs: [],
        raw_input_contents: tensors.map((t) => tensorToBlob(t)),
      }).finish();
    };
  }
  return () => {
    const request: InferRequest = { modelName: model, inputs: inputs.map(toTensor) };
    return wire.binary ? encodeInferRequest(request, { binaryOutputs: true }).body : inferRequestToJsonText(request);
  };
}

/** What the client library does from the answer's bytes to an InferResult. */
function decoder(wire: Wire, answer: InferResult): () => unknown {
  const response: InferResponse = { modelName: answer.modelName, modelVersion: answer.modelVersion, outputs: answer.outputs };
  if (wire.protocol === 'grpc') {
    const types = inferMessageTypes();
    const bytes = types.response.encode({
      model_name: response.modelName,
      model_version: response.modelVersion,
      id: '',
      outputs: response.outputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
      raw_output_contents: response.outputs.map((t) => tensorToBlob(t)),
    }).finish();
    return () => {
      const message = types.response.decode(bytes) as unknown as { outputs: Array<{ name: string; datatype: string; shape: Array<number | { toNumber(): number }> }>; raw_output_contents: Uint8Array[] };
      return message.outputs.map((o, i) => {
        const shape = o.shape.map((d) => (typeof d === 'number' ? d : d.toNumber()));
        return blobToTensorData(message.raw_output_contents[i], o.name, response.outputs[i].datatype, shape, failResponse);
      });
    };
  }
  const { body, headerLength } = encodeInferResponse(response, { modelName: response.modelName, inputs: [], ...(wire.binary ? { binaryDataOutput: true } : {}) });
  return () => parseBinaryInferResponse(body, headerLength);
}
