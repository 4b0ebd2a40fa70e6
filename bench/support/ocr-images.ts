/**
 * Text images for OCR tests and benches, rendered at run time with sharp from SVG (librsvg with
 * this machine's fonts: DejaVu ships with Debian), so that the exact text is known. Nothing is
 * stored: the images are as reproducible as the fonts.
 */
import zlib from 'node:zlib';
import sharp from 'sharp';

export interface TextLine {
  text: string;
  x: number;
  /** Baseline. */
  y: number;
  font: string;
  size: number;
  /** Turned 180° about its own centre (upside down). */
  upsideDown?: boolean;
}

export interface TextPage {
  width: number;
  height: number;
  lines: TextLine[];
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** SVG text of the page: black text on white. */
export function pageSvg(page: TextPage): string {
  const lines = page.lines.map((l) => {
    const text = `<text x="${l.x}" y="${l.y}" font-family="${l.font}" font-size="${l.size}">${escape(l.text)}</text>`;
    if (!l.upsideDown) return text;
    // The centre of the line, near enough: half the advance of an average glyph, a third of the size above the baseline.
    const cx = l.x + (l.text.length * l.size * 0.3);
    const cy = l.y - l.size * 0.35;
    return `<g transform="rotate(180 ${cx} ${cy})">${text}</g>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${page.width}" height="${page.height}">`
    + `<rect width="100%" height="100%" fill="white"/>${lines.join('')}</svg>`;
}

export function renderPage(page: TextPage, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const image = sharp(Buffer.from(pageSvg(page)));
  return (format === 'png' ? image.png() : image.jpeg({ quality: 92 })).toBuffer();
}

/**
 * The page the OCR tests and bench read: four lines in three fonts and four sizes, the last one
 * upside down. Its text, in reading order, is OCR_PAGE_TEXT.
 */
export const OCR_PAGE: TextPage = {
  width: 800,
  height: 400,
  lines: [
    { text: 'Inference gateway', x: 40, y: 70, font: 'DejaVu Serif', size: 44 },
    { text: 'pipeline steps: 8', x: 40, y: 150, font: 'DejaVu Sans Mono', size: 28 },
    { text: 'Batch of crops 2026', x: 40, y: 230, font: 'DejaVu Sans', size: 36 },
    { text: 'Declared not coded', x: 80, y: 330, font: 'DejaVu Sans', size: 34, upsideDown: true },
  ],
};

export const OCR_PAGE_TEXT = OCR_PAGE.lines.map((l) => l.text);

/**
 * A decompression bomb's shape: a PNG whose header declares width × height (valid chunks and
 * CRCs) with a few bytes of pixel data. A decoder that trusted the header would allocate
 * width × height × 3 bytes; a careful one refuses it from the header alone.
 */
export function pngDeclaring(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const typed = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(typed));
    return Buffer.concat([length, typed, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, deflate, no filter method, no interlace
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(Buffer.alloc(1024))), chunk('IEND', Buffer.alloc(0))]);
}
