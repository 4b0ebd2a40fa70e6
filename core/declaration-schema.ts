/**
 * JSON Schema of a model declaration file, compiled once at startup. The schema checks shape and
 * types; rules that span fields (batch dims, version sources) live in model-repository.ts.
 */
import { DATATYPES } from './datatypes.js';
import { POSTPROCESSING_SCHEMA, PREPROCESSING_SCHEMA } from './processing-declaration.js';

const tensorSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'datatype', 'dims'],
  properties: {
    name: { type: 'string', minLength: 1 },
    datatype: { enum: [...DATATYPES] },
    dims: { type: 'array', items: { type: 'integer', minimum: -1 } },
    labels: { type: 'string', minLength: 1 },
  },
} as const;

/** Longest dynamic_batching.max_queue_delay_us (1 s): a longer hold is a misconfiguration, not batching. */
export const MAX_QUEUE_DELAY_US = 1_000_000;
/** Longest dynamic_batching.default_queue_timeout_us (1 hour). */
export const MAX_QUEUE_TIMEOUT_US = 3_600_000_000;
/** Most dynamic_batching.priority_levels. */
export const MAX_PRIORITY_LEVELS = 100;

/** Largest `count` of one warmup sample: warmup delays readiness, so it is bounded. */
export const MAX_WARMUP_COUNT = 1000;

const warmupInputSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    zero_data: { const: true },
    random_data: { const: true },
    input_data_file: { type: 'string', minLength: 1 },
    dims: { type: 'array', items: { type: 'integer', minimum: 1 } },
  },
} as const;

const warmupSchema = {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'inputs'],
    properties: {
      name: { type: 'string', minLength: 1 },
      batch_size: { type: 'integer', minimum: 1 },
      inputs: { type: 'object', additionalProperties: warmupInputSchema },
      count: { type: 'integer', minimum: 1, maximum: MAX_WARMUP_COUNT },
    },
  },
} as const;

export const DECLARATION_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'engine', 'inputs', 'outputs'],
  properties: {
    name: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
    engine: {
      oneOf: [
        { type: 'string', minLength: 1 },
        { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      ],
    },
    platform: { type: 'string' },
    model_file: { type: 'string', minLength: 1 },
    versions: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 1 } },
    version_policy: {
      oneOf: [
        { enum: ['latest', 'all'] },
        {
          type: 'object', additionalProperties: false, required: ['latest'],
          properties: { latest: { type: 'integer', minimum: 1 } },
        },
        {
          type: 'object', additionalProperties: false, required: ['specific'],
          properties: { specific: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 1 } } },
        },
      ],
    },
    max_batch_size: { type: 'integer', minimum: 0 },
    max_queue_size: { type: 'integer', minimum: 0 },
    inputs: { type: 'array', minItems: 1, items: tensorSchema },
    outputs: { type: 'array', minItems: 1, items: tensorSchema },
    instances: {
      type: 'array', minItems: 1,
      items: {
        type: 'object', additionalProperties: false, required: ['kind'],
        properties: {
          kind: { enum: ['cpu', 'gpu', 'npu', 'sim', 'auto'] },
          count: { type: 'integer', minimum: 1 },
        },
      },
    },
    dynamic_batching: {
      type: 'object', additionalProperties: false,
      properties: {
        max_queue_delay_us: { type: 'integer', minimum: 0, maximum: MAX_QUEUE_DELAY_US },
        preferred_batch_sizes: { type: 'array', uniqueItems: true, items: { type: 'integer', minimum: 1 } },
        max_queue_size: { type: 'integer', minimum: 0 },
        default_queue_timeout_us: { type: 'integer', minimum: 0, maximum: MAX_QUEUE_TIMEOUT_US },
        priority_levels: { type: 'integer', minimum: 0, maximum: MAX_PRIORITY_LEVELS },
        default_priority_level: { type: 'integer', minimum: 1, maximum: MAX_PRIORITY_LEVELS },
      },
    },
    execution: { enum: ['worker', 'inline'] },
    model_warmup: warmupSchema,
    preprocessing: PREPROCESSING_SCHEMA,
    postprocessing: POSTPROCESSING_SCHEMA,
    native: {
      type: 'object', additionalProperties: false, required: ['plugin'],
      properties: { plugin: { type: 'string', minLength: 1 }, options: { type: 'string' } },
    },
    sim: {
      type: 'object', additionalProperties: false, required: ['service_ms'],
      properties: { service_ms: { type: 'number', exclusiveMinimum: 0 } },
    },
  },
} as const;
