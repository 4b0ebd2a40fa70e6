/**
 * Writes the small ONNX models that tests and benchmarks use (`models/<name>/1/model.onnx`), built
 * with onnx-proto so that no weights are downloaded or checked in. Their declarations
 * (`models/<name>/model.yaml`) are checked in by hand beside them.
 *
 * Run from anywhere: `node dist/tools/generate-models.js` (part of `npm run build`). The output is a
 * pure function of this file, and a file is only rewritten when its bytes differ, so repeated
 * builds leave timestamps alone.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import type { Datatype } from '../core/datatypes.js';

const { onnx } = onnxProto;
type Dim = number | string;

const IR_VERSION = 8;
const OPSET_VERSION = 13;
const BATCH_DIM = 'N';

/**
 * Fixed weights of `tiny_cnn`, kept here so a test can compute the expected output in plain JS.
 * Layouts are ONNX's: conv weight [filters=2, channels=1, 3, 3], gemm weight [in=2, out=3].
 */
export const TINY_CNN_WEIGHTS = {
  convWeight: [
    0.5, -0.25, 0.125,
    0.0, 1.0, -0.5,
    0.25, 0.75, -1.0,

    -0.5, 0.5, 0.25,
    1.0, -0.75, 0.0,
    0.125, -0.25, 0.5,
  ],
  convBias: [0.1, -0.2],
  gemmWeight: [
    1.5, -1.0, 0.5,
    -0.5, 2.0, 1.0,
  ],
  gemmBias: [0.05, -0.1, 0.2],
} as const;

export const TINY_CNN_INPUT_SIZE = 8;

/**
 * Datatypes of `identity_types`, one Identity each. All KServe datatypes but BF16: onnxruntime-node
 * 1.30 has no JavaScript tensor type for bfloat16 (a session whose input is bfloat16 fails to load
 * with "Unsupported data type: 16"), so the engine refuses BF16 per request instead.
 */
export const IDENTITY_TYPES: readonly Datatype[] = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64',
  'FP16', 'FP32', 'FP64', 'BYTES',
];

const ONNX_ELEMENT_TYPES: Record<Datatype, number> = {
  BOOL: onnx.TensorProto.DataType.BOOL,
  UINT8: onnx.TensorProto.DataType.UINT8,
  UINT16: onnx.TensorProto.DataType.UINT16,
  UINT32: onnx.TensorProto.DataType.UINT32,
  UINT64: onnx.TensorProto.DataType.UINT64,
  INT8: onnx.TensorProto.DataType.INT8,
  INT16: onnx.TensorProto.DataType.INT16,
  INT32: onnx.TensorProto.DataType.INT32,
  INT64: onnx.TensorProto.DataType.INT64,
  FP16: onnx.TensorProto.DataType.FLOAT16,
  FP32: onnx.TensorProto.DataType.FLOAT,
  FP64: onnx.TensorProto.DataType.DOUBLE,
  BF16: onnx.TensorProto.DataType.BFLOAT16,
  BYTES: onnx.TensorProto.DataType.STRING,
};

function valueInfo(name: string, datatype: Datatype, dims: readonly Dim[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ONNX_ELEMENT_TYPES[datatype],
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

function floatInitializer(name: string, dims: number[], values: readonly number[]): OnnxTypes.ITensorProto {
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: [...values] };
}

function node(opType: string, inputs: string[], outputs: string[], attribute: OnnxTypes.IAttributeProto[] = []): OnnxTypes.INodeProto {
  return { opType, input: inputs, output: outputs, name: `${opType.toLowerCase()}_${outputs[0]}`, attribute };
}

function intAttr(name: string, i: number): OnnxTypes.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}

function floatAttr(name: string, f: number): OnnxTypes.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f };
}

function encodeModel(graph: OnnxTypes.IGraphProto): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET_VERSION }],
    producerName: 'infergate generate-models',
    graph,
  }).finish();
}

function identityModel(): Uint8Array {
  return encodeModel({
    name: 'identity',
    node: [node('Identity', ['INPUT0'], ['OUTPUT0'])],
    input: [valueInfo('INPUT0', 'FP32', [BATCH_DIM, 16])],
    output: [valueInfo('OUTPUT0', 'FP32', [BATCH_DIM, 16])],
  });
}

function addSubModel(): Uint8Array {
  return encodeModel({
    name: 'add_sub',
    node: [
      node('Add', ['INPUT0', 'INPUT1'], ['OUTPUT0']),
      node('Sub', ['INPUT0', 'INPUT1'], ['OUTPUT1']),
    ],
    input: [valueInfo('INPUT0', 'INT32', [BATCH_DIM, 16]), valueInfo('INPUT1', 'INT32', [BATCH_DIM, 16])],
    output: [valueInfo('OUTPUT0', 'INT32', [BATCH_DIM, 16]), valueInfo('OUTPUT1', 'INT32', [BATCH_DIM, 16])],
  });
}

function tinyCnnModel(): Uint8Array {
  const w = TINY_CNN_WEIGHTS;
  return encodeModel({
    name: 'tiny_cnn',
    node: [
      node('Conv', ['INPUT', 'conv_w', 'conv_b'], ['conv'], [
        { name: 'kernel_shape', type: onnx.AttributeProto.AttributeType.INTS, ints: [3, 3] },
      ]),
      node('Relu', ['conv'], ['relu']),
      node('GlobalAveragePool', ['relu'], ['pool']),
      node('Flatten', ['pool'], ['flat'], [intAttr('axis', 1)]),
      node('Gemm', ['flat', 'gemm_w', 'gemm_b'], ['logits'], [floatAttr('alpha', 1), floatAttr('beta', 1)]),
      node('Softmax', ['logits'], ['PROBS'], [intAttr('axis', 1)]),
    ],
    initializer: [
      floatInitializer('conv_w', [2, 1, 3, 3], w.convWeight),
      floatInitializer('conv_b', [2], w.convBias),
      floatInitializer('gemm_w', [2, 3], w.gemmWeight),
      floatInitializer('gemm_b', [3], w.gemmBias),
    ],
    input: [valueInfo('INPUT', 'FP32', [BATCH_DIM, 1, TINY_CNN_INPUT_SIZE, TINY_CNN_INPUT_SIZE])],
    output: [valueInfo('PROBS', 'FP32', [BATCH_DIM, 3])],
  });
}

function identityTypesModel(): Uint8Array {
  return encodeModel({
    name: 'identity_types',
    node: IDENTITY_TYPES.map((t) => node('Identity', [`IN_${t}`], [`OUT_${t}`])),
    input: IDENTITY_TYPES.map((t) => valueInfo(`IN_${t}`, t, [`len_${t.toLowerCase()}`])),
    output: IDENTITY_TYPES.map((t) => valueInfo(`OUT_${t}`, t, [`len_${t.toLowerCase()}`])),
  });
}

export interface GeneratedModel {
  name: string;
  bytes: Uint8Array;
}

/** Every generated model, encoded; pure and deterministic. */
export function buildModels(): GeneratedModel[] {
  return [
    { name: 'identity', bytes: identityModel() },
    { name: 'add_sub', bytes: addSubModel() },
    { name: 'tiny_cnn', bytes: tinyCnnModel() },
    { name: 'identity_types', bytes: identityTypesModel() },
  ];
}

export const GENERATED_MODEL_VERSION = '1';
export const GENERATED_MODEL_FILE = 'model.onnx';

/** Path of a generated model's file under a models directory. */
export function generatedModelPath(modelsDir: string, name: string): string {
  return join(modelsDir, name, GENERATED_MODEL_VERSION, GENERATED_MODEL_FILE);
}

function sameBytes(path: string, bytes: Uint8Array): boolean {
  try {
    return Buffer.from(bytes).equals(readFileSync(path));
  } catch {
    return false;
  }
}

export interface WrittenModel {
  path: string;
  bytes: number;
  written: boolean;
}

/** Writes each model whose file is missing or differs; returns what it found or did. */
export function writeModels(modelsDir: string): WrittenModel[] {
  return buildModels().map(({ name, bytes }) => {
    const path = generatedModelPath(modelsDir, name);
    if (sameBytes(path, bytes)) return { path, bytes: bytes.length, written: false };
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes);
    return { path, bytes: bytes.length, written: true };
  });
}

/** The repository root: the nearest directory above this file (source or dist/) with a package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

function main(): void {
  const root = repoRoot();
  for (const m of writeModels(join(root, 'models'))) {
    console.log(`${m.written ? 'wrote    ' : 'unchanged'} ${relative(root, m.path)} (${m.bytes} bytes)`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main();
}
