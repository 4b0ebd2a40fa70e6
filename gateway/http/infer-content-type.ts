/**
 * The Content-Types an infer body may declare. KServe v2 sends JSON, Triton's binary extension
 * is a JSON header plus raw bytes, and neither spec makes the header mandatory, so a body with no
 * Content-Type is read as the protocol says. A type that names another format (multipart/form-data,
 * XML, HTML, an image) is refused with 415 before the body is read, rather than surfacing as a
 * JSON syntax error later.
 * Three generic types are let through, because common clients send them for a JSON string without
 * being asked to: `text/plain;charset=UTF-8` (fetch and undici, for a string body),
 * `application/x-www-form-urlencoded` (`curl -d`). Triton reads such bodies as JSON too.
 */
import { InferError } from '../../core/errors.js';

/** Media types read as an infer body (lower case, parameters aside); any `application/*+json` too. */
const ACCEPTED = new Set(['application/json', 'application/octet-stream', 'application/x-www-form-urlencoded', 'text/plain']);
const JSON_SUFFIX = /^application\/[a-z0-9.!#$%&'*+^_`|~-]+\+json$/;

/** Undefined when the body may be read; the 415 to answer otherwise. */
export function inferContentTypeError(contentType: string | undefined): InferError | undefined {
  if (contentType === undefined || contentType.trim() === '') return undefined;
  const [type, ...params] = contentType.split(';');
  const mediaType = type.trim().toLowerCase();
  if (!ACCEPTED.has(mediaType) && !JSON_SUFFIX.test(mediaType)) {
    return refuse(`Content-Type ${JSON.stringify(contentType.slice(0, 100))} is not an infer body; send application/json (JSON, or the binary tensor extension with Inference-Header-Content-Length) or application/octet-stream`);
  }
  for (const param of params) {
    const [key, value = ''] = param.split('=').map((s) => s.trim().toLowerCase());
    if (key === 'charset' && value.replace(/"/g, '') !== 'utf-8' && value.replace(/"/g, '') !== 'utf8') {
      return refuse(`Content-Type charset ${JSON.stringify(value.slice(0, 40))} is not supported; JSON bodies are UTF-8`);
    }
  }
  return undefined;
}

function refuse(message: string): InferError {
  return new InferError('UNSUPPORTED_MEDIA_TYPE', message, 'unsupported_media_type');
}
