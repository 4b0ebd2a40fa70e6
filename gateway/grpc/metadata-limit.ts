/**
 * --max-header-bytes on the gRPC door: grpc-js's server ignores `grpc.max_metadata_size`, so a
 * server interceptor measures each call's metadata and refuses one over the limit with
 * RESOURCE_EXHAUSTED before any handler runs. Sizes are counted as HTTP/2 counts a header list
 * (RFC 9113 §6.5.2: name + value + 32 per field). Node's HTTP/2 layer has its own ceiling
 * (maxHeaderListSize, 64 KiB): a header block above it is refused by the transport, whatever this says.
 */
import { ServerInterceptingCall, status, type Metadata, type ServerInterceptor } from '@grpc/grpc-js';

/** HTTP/2's per-field overhead in a header list's size. */
const FIELD_OVERHEAD_BYTES = 32;

export function metadataBytes(metadata: Metadata): number {
  let size = 0;
  for (const [key, value] of Object.entries(metadata.toHttp2Headers())) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) size += key.length + String(v).length + FIELD_OVERHEAD_BYTES;
  }
  return size;
}

export function metadataLimit(maxBytes: number): ServerInterceptor {
  return (_method, call) => {
    const intercepting: ServerInterceptingCall = new ServerInterceptingCall(call, {
      start: (next) => next({
        onReceiveMetadata: (metadata, pass) => {
          const size = metadataBytes(metadata);
          if (size <= maxBytes) {
            pass(metadata);
            return;
          }
          intercepting.sendStatus({
            code: status.RESOURCE_EXHAUSTED,
            details: `request metadata is ${size} bytes, over the configured limit (--max-header-bytes = ${maxBytes})`,
          });
        },
      }),
    });
    return intercepting;
  };
}
