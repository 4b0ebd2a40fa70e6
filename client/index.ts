/** infergate/client: a KServe v2 client for Node, over HTTP and over gRPC, with one result shape. */
export { InferenceHttpClient, DEFAULT_CLIENT_CONNECTIONS, DEFAULT_CLIENT_TIMEOUT_MS } from './http-client.js';
export type { ClientTls, HttpClientOptions, InferOptions, InferResult, ModelMetadataAnswer, ServerMetadata } from './http-client.js';
export { InferenceServerError } from './client-errors.js';
export { toTensor, tensorValues } from './client-tensors.js';
export type { TensorInput, TensorValues } from './client-tensors.js';
export type { Tensor } from '../core/tensor.js';
export type { Datatype } from '../core/datatypes.js';
export { InferenceGrpcClient, DEFAULT_CLIENT_MAX_MESSAGE_BYTES } from './grpc-client.js';
export type { GrpcClientOptions, InferStream } from './grpc-client.js';
