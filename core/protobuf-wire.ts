/**
 * The protobuf wire format at its lowest level: varints, tags, and length-delimited fields. Enough
 * to read a message's top-level fields and to append or wrap fields without decoding the rest, so
 * that a gateway can route a gRPC inference by its model name and pass its tensors on untouched.
 */

/** Protobuf wire types (the low three bits of a tag). */
export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH_DELIMITED = 2;
export const WIRE_FIXED32 = 5;

/** Thrown on bytes that are not a protobuf message; the caller says which message it expected. */
export class MalformedProtobuf extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedProtobuf';
  }
}

/** One top-level field: its number, wire type, and for a length-delimited field where its bytes are. */
export interface WireField {
  field: number;
  wireType: number;
  /** Start and end of the payload of a length-delimited field; for other wire types start = end. */
  start: number;
  end: number;
}

/**
 * Calls `visit` for each top-level field of the message, in wire order, skipping over every
 * payload (nothing nested is read). Groups (deprecated wire types 3 and 4) are refused.
 */
export function forEachField(bytes: Uint8Array, visit: (field: WireField) => void): void {
  let offset = 0;
  while (offset < bytes.length) {
    const [tag, afterTag] = readVarint(bytes, offset);
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field === 0) throw new MalformedProtobuf(`field number 0 at byte ${offset}`);
    switch (wireType) {
      case WIRE_VARINT:
        offset = readVarint(bytes, afterTag)[1];
        visit({ field, wireType, start: offset, end: offset });
        break;
      case WIRE_FIXED64:
        offset = skip(bytes, afterTag, 8);
        visit({ field, wireType, start: offset, end: offset });
        break;
      case WIRE_FIXED32:
        offset = skip(bytes, afterTag, 4);
        visit({ field, wireType, start: offset, end: offset });
        break;
      case WIRE_LENGTH_DELIMITED: {
        const [length, start] = readVarint(bytes, afterTag);
        offset = skip(bytes, start, length);
        visit({ field, wireType, start, end: offset });
        break;
      }
      default:
        throw new MalformedProtobuf(`unsupported wire type ${wireType} of field ${field} at byte ${offset}`);
    }
  }
}

/** A varint at `offset` as a number (exact up to 2^53) and the offset after it. */
export function readVarint(bytes: Uint8Array, offset: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = offset; i < bytes.length && i < offset + 10; i++) {
    const byte = bytes[i];
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, i + 1];
    scale *= 128;
  }
  throw new MalformedProtobuf(`truncated or overlong varint at byte ${offset}`);
}

function skip(bytes: Uint8Array, offset: number, length: number): number {
  const end = offset + length;
  if (end > bytes.length) throw new MalformedProtobuf(`a field of ${length} bytes at byte ${offset} runs past the end (${bytes.length} bytes)`);
  return end;
}

/** The varint encoding of a non-negative integer below 2^53. */
export function encodeVarint(value: number): Buffer {
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

/** Tag and length of a length-delimited field whose payload of `length` bytes follows. */
export function lengthDelimitedHead(field: number, length: number): Buffer {
  return Buffer.concat([encodeVarint(field * 8 + WIRE_LENGTH_DELIMITED), encodeVarint(length)]);
}

/** A whole length-delimited field (a string, bytes or an embedded message). */
export function lengthDelimitedField(field: number, payload: Uint8Array): Buffer {
  const head = lengthDelimitedHead(field, payload.byteLength);
  return Buffer.concat([head, payload], head.length + payload.byteLength);
}
