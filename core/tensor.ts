import type { Datatype, TensorData } from './datatypes.js';

export type ParameterValue = boolean | number | string;
export type Parameters = Record<string, ParameterValue>;

/** A tensor after parsing: typed storage, independent of the wire format it came in. */
export interface Tensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: TensorData;
  parameters?: Parameters;
}

/** A requested output; `binaryData` asks for the binary tensor extension on the way back. */
export interface RequestedOutput {
  name: string;
  parameters?: Parameters;
  binaryData?: boolean;
}

export interface InferRequest {
  modelName: string;
  /** Empty or undefined: the version the model's version policy serves by default. */
  modelVersion?: string;
  id?: string;
  parameters?: Parameters;
  inputs: Tensor[];
  /** Undefined: all outputs of the model. */
  outputs?: RequestedOutput[];
  /** Request-level `binary_data_output`. */
  binaryDataOutput?: boolean;
}

export interface InferResponse {
  modelName: string;
  modelVersion: string;
  id?: string;
  parameters?: Parameters;
  outputs: Tensor[];
}
