/** imageToTensor: colour order, normalization, layout and element type, exact values (pure). */
import { describe, expect, it } from 'vitest';
import { fp16ToNumber } from '../../core/half-float.js';
import type { RawImage } from '../../processing/image-decode.js';
import { imageTensorShape, imageToTensor, stackImageTensors, type TensorLayoutSpec } from '../../processing/image-tensor.js';

/** 2×1 RGB: (10, 20, 30) (40, 50, 60). */
const RGB: RawImage = { width: 2, height: 1, channels: 3, data: new Uint8Array([10, 20, 30, 40, 50, 60]) };
const GREY: RawImage = { width: 2, height: 1, channels: 1, data: new Uint8Array([0, 255]) };

describe('imageToTensor', () => {
  const cases: [string, RawImage, TensorLayoutSpec, number[], number[]][] = [
    ['RGB NCHW: planes R, G, B', RGB, { colorOrder: 'RGB', layout: 'NCHW', datatype: 'FP32' }, [3, 1, 2], [10, 40, 20, 50, 30, 60]],
    ['RGB NHWC: interleaved', RGB, { colorOrder: 'RGB', layout: 'NHWC', datatype: 'FP32' }, [1, 2, 3], [10, 20, 30, 40, 50, 60]],
    ['BGR NCHW: B plane first', RGB, { colorOrder: 'BGR', layout: 'NCHW', datatype: 'FP32' }, [3, 1, 2], [30, 60, 20, 50, 10, 40]],
    ['BGR NHWC', RGB, { colorOrder: 'BGR', layout: 'NHWC', datatype: 'FP32' }, [1, 2, 3], [30, 20, 10, 60, 50, 40]],
    ['scale, one mean and std for all', RGB, { colorOrder: 'RGB', layout: 'NHWC', datatype: 'FP64', scale: 0.1, mean: [1], std: [2] }, [1, 2, 3], [0, 0.5, 1, 1.5, 2, 2.5]],
    ['per-channel mean and std (in colour order)', RGB, { colorOrder: 'RGB', layout: 'NHWC', datatype: 'FP64', mean: [10, 20, 30], std: [1, 2, 3] }, [1, 2, 3], [0, 0, 0, 30, 15, 10]],
    ['BGR with per-channel mean: mean[0] is B', RGB, { colorOrder: 'BGR', layout: 'NHWC', datatype: 'FP64', mean: [30, 20, 10] }, [1, 2, 3], [0, 0, 0, 30, 30, 30]],
    ['GRAY (v/255 − 0.5)/0.5', GREY, { colorOrder: 'GRAY', layout: 'NCHW', datatype: 'FP32', scale: 1 / 255, mean: [0.5], std: [0.5] }, [1, 1, 2], [-1, 1]],
    ['UINT8 rounds and clamps', RGB, { colorOrder: 'RGB', layout: 'NHWC', datatype: 'UINT8', scale: 5, mean: [0], std: [1] }, [1, 2, 3], [50, 100, 150, 200, 250, 255]],
  ];
  it.each(cases)('%s', (_name, image, spec, shape, values) => {
    expect(imageTensorShape(image, spec)).toEqual(shape);
    const out = imageToTensor(image, spec);
    expect(out.constructor.name).toBe({ FP32: 'Float32Array', FP64: 'Float64Array', UINT8: 'Uint8Array', FP16: 'Uint16Array' }[spec.datatype]);
    expect(Array.from(out as Float64Array)).toEqual(values.map((v) => (spec.datatype === 'FP32' ? Math.fround(v) : v)));
  });

  it('FP32 values are the formula computed in double, then rounded once', () => {
    const spec: TensorLayoutSpec = { colorOrder: 'RGB', layout: 'NCHW', datatype: 'FP32', scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
    const out = imageToTensor(RGB, spec);
    expect(out[0]).toBe(Math.fround((10 / 255 - 0.485) / 0.229));
    expect(out[5]).toBe(Math.fround((60 / 255 - 0.406) / 0.225));
  });

  it('FP16 stores half-precision bit patterns', () => {
    const out = imageToTensor(GREY, { colorOrder: 'GRAY', layout: 'NCHW', datatype: 'FP16', scale: 1 / 255 });
    expect(Array.from(out as Uint16Array, fp16ToNumber)).toEqual([0, 1]);
  });

  it('a 1-channel image for an RGB tensor is a programming error, not silently wrong', () => {
    expect(() => imageToTensor(GREY, { colorOrder: 'RGB', layout: 'NCHW', datatype: 'FP32' })).toThrow(/needs a 3-channel image/);
  });

  it('stackImageTensors puts rows one after the other', () => {
    expect(Array.from(stackImageTensors([new Float32Array([1, 2]), new Float32Array([3, 4])]) as Float32Array)).toEqual([1, 2, 3, 4]);
  });
});
