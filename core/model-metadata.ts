import type { Datatype } from './datatypes.js';

/** A tensor as the protocol describes it: shape includes the batch dim (-1) when the model batches. */
export interface TensorMetadata {
  name: string;
  datatype: Datatype;
  shape: number[];
}

/**
 * What a front door needs to know about one model version to validate a request before routing it.
 * Local models derive it from their declaration; remote backends send it when they join.
 */
export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  /** 0: no batching; n ≥ 1: first dim of every input and output is the batch, at most n. */
  maxBatchSize: number;
}

export type ModelState = 'READY' | 'LOADING' | 'UNAVAILABLE';

/** One line of the repository index (POST /v2/repository/index). */
export interface ModelIndexEntry {
  name: string;
  version: string;
  state: ModelState;
  reason: string;
}
