/**
 * The reference dense plugin's weights file (native/plugins/dense/dense.c documents the format):
 * encode, decode, a deterministic generator, and the forward pass in plain JS. Tests and the
 * benchmark compare the plugin's outputs with `denseForward`, which rounds to fp32 after every
 * multiply and add in the plugin's order, so the two agree bit for bit (the plugin is built with
 * -ffp-contract=off: no fused multiply-add).
 */

export const DENSE_MAGIC = 'IGDENSE1';
/** Limits the plugin enforces when it reads a file. */
export const DENSE_MAX_LAYERS = 64;
export const DENSE_MAX_WIDTH = 65536;

export interface DenseLayer {
  outWidth: number;
  relu: boolean;
  /** Row-major [inWidth][outWidth]. */
  weights: Float32Array;
  bias: Float32Array;
}

export interface DenseNetwork {
  inputWidth: number;
  layers: DenseLayer[];
}

export function encodeDense(net: DenseNetwork): Uint8Array {
  if (net.layers.length < 1 || net.layers.length > DENSE_MAX_LAYERS) throw new RangeError(`a dense network has 1..${DENSE_MAX_LAYERS} layers, got ${net.layers.length}`);
  let size = 16;
  let width = net.inputWidth;
  for (const l of net.layers) {
    if (l.weights.length !== width * l.outWidth || l.bias.length !== l.outWidth) {
      throw new RangeError(`layer of ${width} → ${l.outWidth} needs ${width * l.outWidth} weights and ${l.outWidth} biases`);
    }
    size += 8 + 4 * (l.weights.length + l.bias.length);
    width = l.outWidth;
  }
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(DENSE_MAGIC), 0);
  view.setUint32(8, net.layers.length, true);
  view.setUint32(12, net.inputWidth, true);
  let at = 16;
  for (const l of net.layers) {
    view.setUint32(at, l.outWidth, true);
    view.setUint32(at + 4, l.relu ? 1 : 0, true);
    at += 8;
    for (const v of l.weights) { view.setFloat32(at, v, true); at += 4; }
    for (const v of l.bias) { view.setFloat32(at, v, true); at += 4; }
  }
  return bytes;
}

export function decodeDense(bytes: Uint8Array): DenseNetwork {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 16 || new TextDecoder().decode(bytes.subarray(0, 8)) !== DENSE_MAGIC) throw new Error('not a dense weights file');
  const count = view.getUint32(8, true);
  let width = view.getUint32(12, true);
  const net: DenseNetwork = { inputWidth: width, layers: [] };
  let at = 16;
  for (let k = 0; k < count; k++) {
    const outWidth = view.getUint32(at, true);
    const relu = view.getUint32(at + 4, true) === 1;
    at += 8;
    const weights = new Float32Array(width * outWidth);
    for (let i = 0; i < weights.length; i++, at += 4) weights[i] = view.getFloat32(at, true);
    const bias = new Float32Array(outWidth);
    for (let j = 0; j < outWidth; j++, at += 4) bias[j] = view.getFloat32(at, true);
    net.layers.push({ outWidth, relu, weights, bias });
    width = outWidth;
  }
  if (at !== bytes.length) throw new Error(`${bytes.length - at} bytes after the last layer`);
  return net;
}

/** A seeded network: weights uniform in ±1/sqrt(in), biases in ±0.1; ReLU on every layer but the last. */
export function generateDense(inputWidth: number, widths: readonly number[], seed: number): DenseNetwork {
  const random = mulberry32(seed);
  const layers: DenseLayer[] = [];
  let width = inputWidth;
  widths.forEach((outWidth, k) => {
    const scale = 1 / Math.sqrt(width);
    const weights = Float32Array.from({ length: width * outWidth }, () => (random() * 2 - 1) * scale);
    const bias = Float32Array.from({ length: outWidth }, () => (random() * 2 - 1) * 0.1);
    layers.push({ outWidth, relu: k < widths.length - 1, weights, bias });
    width = outWidth;
  });
  return { inputWidth, layers };
}

/** The plugin's computation for `rows` rows of `input` (row-major [rows][inputWidth]), in fp32. */
export function denseForward(net: DenseNetwork, input: Float32Array, rows: number): Float32Array {
  let x = input;
  let width = net.inputWidth;
  for (const l of net.layers) {
    const y = new Float32Array(rows * l.outWidth);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < l.outWidth; j++) {
        let acc = l.bias[j];
        for (let i = 0; i < width; i++) acc = Math.fround(acc + Math.fround(x[r * width + i] * l.weights[i * l.outWidth + j]));
        y[r * l.outWidth + j] = l.relu && acc < 0 ? 0 : acc;
      }
    }
    x = y;
    width = l.outWidth;
  }
  return x;
}

/** Small, fast, seedable: the same network on every machine. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
