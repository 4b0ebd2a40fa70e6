/**
 * PNG files written byte by byte, for the images sharp will not make: ones that declare a size
 * they do not hold (decompression bombs), 0×0, or 20000×20000 without 1.2 GB of pixels.
 */
import zlib from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A PNG with the given header and IDAT payload (already deflated). bitDepth/colorType as in the PNG spec. */
export function pngWith(width: number, height: number, idat: Buffer, bitDepth = 8, colorType = 0): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  return Buffer.concat([SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/** A complete, valid 1-bit black image of width × height: small on disk, huge decoded. */
export function blackPng1Bit(width: number, height: number): Buffer {
  const row = 1 + Math.ceil(width / 8);
  return pngWith(width, height, zlib.deflateSync(Buffer.alloc(row * height)), 1, 0);
}

/** A decompression bomb: a few bytes that declare width × height of 8-bit grey. */
export function bombPng(width: number, height: number): Buffer {
  return pngWith(width, height, zlib.deflateSync(Buffer.alloc(64)));
}
