/**
 * Limits on the shape of a JSON body, checked before or right after JSON.parse, so that a hostile
 * body costs no more than its bytes:
 * - nesting depth (--max-json-depth): counted by a scan of the text, outside strings, before
 *   JSON.parse. V8's JSON.parse does not recurse, but what walks the value afterwards may (nested
 *   tensor data, a cursor reading 64-bit literals, JSON.stringify of a message), and a value
 *   100 000 levels deep is no request anyone sends;
 * - the length of the strings a request is described by (--max-string-bytes): names, ids,
 *   datatypes, parameter keys and values. They end up in error messages, logs and metric labels.
 *   Tensor data (BYTES elements) is left out: an image sent as one element is data, bounded by
 *   --max-body-bytes like any other tensor.
 */
import { InferError } from './errors.js';

/** Deeper than any tensor's `data` (ONNX ranks stay well under it) and any request or report. */
export const DEFAULT_MAX_JSON_DEPTH = 64;

/** 64 KiB: far above any real name, id or parameter, far below what a log line should carry. */
export const DEFAULT_MAX_STRING_BYTES = 64 * 1024;

/** Anything that is neither a bracket, a brace nor a quote: skipped in one regex step. */
const PLAIN_RUN = /[^"[\]{}]*/y;
/** The rest of a string after its opening quote, escapes included, up to its closing quote. */
const STRING_REST = /(?:[^"\\]|\\.)*"/ys;

/**
 * 400 when `text` nests arrays and objects deeper than `maxDepth`. Only counts: a malformed text
 * is left to JSON.parse to name (an unclosed string ends the scan).
 */
export function checkJsonDepth(text: string, maxDepth: number): void {
  let depth = 0;
  let at = 0;
  const length = text.length;
  while (at < length) {
    PLAIN_RUN.lastIndex = at;
    PLAIN_RUN.test(text);
    at = PLAIN_RUN.lastIndex;
    if (at >= length) return;
    const c = text.charCodeAt(at++);
    if (c === 0x22) {
      STRING_REST.lastIndex = at;
      if (!STRING_REST.test(text)) return;
      at = STRING_REST.lastIndex;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) {
        throw new InferError('INVALID_ARG', `JSON body nests deeper than the configured limit (--max-json-depth = ${maxDepth})`, 'json_too_deep');
      }
    } else {
      depth--;
    }
  }
}

/** 400 when a string describing the request is longer than `maxBytes` in UTF-8; `what` names it. */
export function checkStringBytes(value: string, what: string, maxBytes: number): void {
  // A UTF-16 unit is at most 3 UTF-8 bytes: most strings need no count.
  if (value.length * 3 <= maxBytes || Buffer.byteLength(value, 'utf8') <= maxBytes) return;
  throw new InferError(
    'INVALID_ARG',
    `${what} is ${Buffer.byteLength(value, 'utf8')} bytes long, over the configured limit (--max-string-bytes = ${maxBytes})`,
    'string_too_long',
  );
}

/**
 * Every string of a parsed request object, keys included, against `maxBytes`, except the elements
 * of tensors' `data` (tensor data, see the file comment). The value is at most --max-json-depth
 * deep (checked before parsing), so the walk keeps an explicit stack rather than recursing anyway.
 */
export function checkRequestStrings(body: unknown, maxBytes: number): void {
  const stack: Array<{ value: unknown; path: string }> = [{ value: body, path: '' }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (typeof value === 'string') {
      checkStringBytes(value, `the string at ${path || 'the top'}`, maxBytes);
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) stack.push({ value: value[i], path: `${path}[${i}]` });
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, member] of Object.entries(value)) {
        checkStringBytes(key, `a key at ${path || 'the top'}`, maxBytes);
        // `inputs[i].data` / `outputs[i].data`: tensor elements.
        if (key === 'data' && /^(?:inputs|outputs)\[\d+\]$/.test(path)) continue;
        stack.push({ value: member, path: path === '' ? key : `${path}.${key}` });
      }
    }
  }
}
