/**
 * --max-json-depth and --max-string-bytes on their own: the depth scan counts exactly (strings and
 * escapes aside) and costs little on a large flat body; the string check leaves tensor data alone;
 * and the decoders apply both before anything recurses.
 */
import { describe, expect, it } from 'vitest';
import { InferError } from '../../core/errors.js';
import { checkJsonDepth, checkRequestStrings, checkStringBytes } from '../../core/json-limits.js';
import { decodeHttpInferRequest } from '../../core/kserve-http-codec.js';
import type { ModelMetadata } from '../../core/model-metadata.js';

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

function refusal(fn: () => void): InferError {
  try {
    fn();
  } catch (err) {
    return err as InferError;
  }
  throw new Error('expected a refusal');
}

describe('checkJsonDepth', () => {
  it('lets exactly the limit through and refuses one more, arrays and objects alike', () => {
    expect(() => checkJsonDepth(nested(64), 64)).not.toThrow();
    expect(refusal(() => checkJsonDepth(nested(65), 64))).toMatchObject({ code: 'INVALID_ARG', reason: 'json_too_deep' });
    expect(() => checkJsonDepth(`${'{"a":'.repeat(64)}1${'}'.repeat(64)}`, 64)).not.toThrow();
    expect(() => checkJsonDepth(`${'{"a":'.repeat(65)}1${'}'.repeat(65)}`, 64)).toThrow(/--max-json-depth = 64/);
  });

  it('counts siblings once, and nothing inside strings, escaped quotes included', () => {
    expect(() => checkJsonDepth(`[${Array(10_000).fill('[1]').join(',')}]`, 2)).not.toThrow();
    expect(() => checkJsonDepth(`["${'['.repeat(1000)}", "\\"[[[[", {"k[": "{{{"}]`, 2)).not.toThrow();
    expect(() => checkJsonDepth('["\\\\", [[1]]]', 2)).toThrow(InferError);
  });

  it('scans a 32 MiB flat numeric body in well under a second', () => {
    const body = `{"inputs":[{"data":[${Array(4_000_000).fill('1.2345678').join(',')}]}]}`;
    const started = performance.now();
    checkJsonDepth(body, 64);
    const ms = performance.now() - started;
    console.log(`[json-limits] depth scan of ${(body.length / 2 ** 20).toFixed(0)} MiB: ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(1_000);
  });
});

describe('string limits', () => {
  it('counts UTF-8 bytes, not UTF-16 units', () => {
    expect(() => checkStringBytes('€'.repeat(100), 'id', 300)).not.toThrow();
    expect(refusal(() => checkStringBytes('€'.repeat(101), 'id', 300)).message).toBe('id is 303 bytes long, over the configured limit (--max-string-bytes = 300)');
  });

  it('checks names, ids, keys and parameters, never tensor data', () => {
    const long = 'x'.repeat(200);
    expect(() => checkRequestStrings({ inputs: [{ name: 'a', data: [long, long] }], outputs: [{ name: 'b' }] }, 100)).not.toThrow();
    expect(() => checkRequestStrings({ id: long, inputs: [] }, 100)).toThrow(/the string at id/);
    expect(() => checkRequestStrings({ inputs: [{ name: 'a', parameters: { [long]: 1 } }] }, 100)).toThrow(/a key at inputs\[0\]\.parameters/);
    expect(() => checkRequestStrings({ inputs: [{ name: 'a', parameters: { p: long } }] }, 100)).toThrow(/inputs\[0\]\.parameters\.p/);
    // `data` elsewhere than a tensor is checked like any string.
    expect(() => checkRequestStrings({ parameters: { data: long }, inputs: [] }, 100)).toThrow(/parameters\.data/);
  });
});

describe('the HTTP decoder', () => {
  const meta: ModelMetadata = { name: 'm', versions: ['1'], platform: 'onnx', maxBatchSize: 0, inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [-1] }], outputs: [] } as unknown as ModelMetadata;
  const n = 100_000;
  const body = Buffer.from(`{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[${Array(n).fill(1).join(',')}],"data":${'['.repeat(n)}1${']'.repeat(n)}}]}`);

  it('refuses data nested 100 000 deep with a 400, where the nested-data walk used to overflow the stack', () => {
    const decode = (maxJsonDepth: number) => () => decodeHttpInferRequest({ format: 'kserve-http', body }, 'm', undefined, meta, { maxTensorElements: 1e6, maxJsonDepth });
    expect(refusal(decode(64))).toMatchObject({ code: 'INVALID_ARG', reason: 'json_too_deep' });
    // The regression the limit prevents: without it, a RangeError (a 500).
    expect(refusal(decode(Number.MAX_SAFE_INTEGER))).toBeInstanceOf(RangeError);
  });

  it('refuses a body that is not UTF-8 instead of reading U+FFFD into it', () => {
    const bad = Buffer.concat([Buffer.from('{"id":"'), Buffer.from([0xc3]), Buffer.from('","inputs":[]}')]);
    expect(refusal(() => decodeHttpInferRequest({ format: 'kserve-http', body: bad }, 'm', undefined, meta, { maxTensorElements: 10 }))).toMatchObject({ reason: 'invalid_utf8' });
  });
});
