// Makes the screenshots in docs/img/ small: Chromium writes 24-bit PNGs, and a dashboard holds few
// colors (a thousand or so, nearly all the shades of anti-aliased text), so a 256-color palette
// keeps the picture as a reader sees it at about half the bytes. node:zlib only.

import { deflateSync, inflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Distance (squared, in RGB) under which a shade is left to its neighbour in the palette's first pass. */
const DISTINCT = 28 * 28;

interface Image {
  readonly width: number;
  readonly height: number;
  /** RGB, three bytes a pixel, row after row. */
  readonly rgb: Buffer;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** An 8-bit, non-interlaced RGB or RGBA PNG as RGB (alpha dropped: screenshots are opaque); null for anything else. */
function decode(png: Buffer): Image | null {
  if (!png.subarray(0, 8).equals(SIGNATURE)) return null;
  let width = 0;
  let height = 0;
  let channels = 0;
  const data: Buffer[] = [];
  for (let at = 8; at + 8 <= png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const body = png.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      const [depth, colorType, , , interlace] = [body[8], body[9], body[10], body[11], body[12]];
      if (depth !== 8 || interlace !== 0 || (colorType !== 2 && colorType !== 6)) return null;
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      channels = colorType === 2 ? 3 : 4;
    } else if (type === 'IDAT') data.push(body);
    at += 12 + length;
  }
  if (channels === 0) return null;
  const filtered = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = filtered[y * (stride + 1)];
    const row = y * (stride + 1) + 1;
    for (let x = 0; x < stride; x++) {
      const left = x >= channels ? (pixels[y * stride + x - channels] ?? 0) : 0;
      const up = y > 0 ? (pixels[(y - 1) * stride + x] ?? 0) : 0;
      const upLeft = x >= channels && y > 0 ? (pixels[(y - 1) * stride + x - channels] ?? 0) : 0;
      const predictor =
        filter === 1 ? left : filter === 2 ? up : filter === 3 ? (left + up) >> 1 : filter === 4 ? paeth(left, up, upLeft) : 0;
      pixels[y * stride + x] = ((filtered[row + x] ?? 0) + predictor) & 0xff;
    }
  }
  if (channels === 3) return { width, height, rgb: pixels };
  const rgb = Buffer.alloc(width * height * 3);
  for (let i = 0, j = 0; i < pixels.length; i += 4, j += 3) pixels.copy(rgb, j, i, i + 3);
  return { width, height, rgb };
}

const distance = (a: number, b: number): number => {
  const dr = (a >> 16) - (b >> 16);
  const dg = ((a >> 8) & 0xff) - ((b >> 8) & 0xff);
  const db = (a & 0xff) - (b & 0xff);
  return dr * dr + dg * dg + db * db;
};

/**
 * At most 256 colors: first, by frequency, each color unlike every one chosen so far (so that a
 * rare accent, a red mark, keeps its own entry), then the most frequent of the rest.
 */
function choosePalette(counts: Map<number, number>): number[] {
  const byFrequency = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([color]) => color);
  if (byFrequency.length <= 256) return byFrequency;
  const palette: number[] = [];
  const chosen = new Set<number>();
  for (const color of byFrequency) {
    if (palette.length === 256) break;
    if (palette.every((p) => distance(p, color) > DISTINCT)) {
      palette.push(color);
      chosen.add(color);
    }
  }
  for (const color of byFrequency) {
    if (palette.length === 256) break;
    if (!chosen.has(color)) palette.push(color);
  }
  return palette;
}

const CRC_TABLE = Array.from({ length: 256 }, (_v, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = (CRC_TABLE[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])), 0);
  return Buffer.concat([head, body, crc]);
}

/**
 * The picture as an 8-bit palette PNG of at most 256 colors, each pixel the nearest palette color;
 * the input unchanged when it is not a PNG this reads, or when the palette would not be smaller.
 */
export function paletteSized(png: Buffer): Buffer {
  const image = decode(png);
  if (image === null) return png;
  const { width, height, rgb } = image;
  const counts = new Map<number, number>();
  for (let i = 0; i < rgb.length; i += 3) {
    const color = rgb.readUIntBE(i, 3);
    counts.set(color, (counts.get(color) ?? 0) + 1);
  }
  const palette = choosePalette(counts);
  const index = new Map<number, number>();
  for (const color of counts.keys()) {
    let best = 0;
    let bestDistance = Number.POSITIVE_INFINITY;
    for (const [i, p] of palette.entries()) {
      const d = distance(p, color);
      if (d < bestDistance) {
        best = i;
        bestDistance = d;
        if (d === 0) break;
      }
    }
    index.set(color, best);
  }
  // Filter "none" on every row: on palette indices it compresses best.
  const rows = Buffer.alloc(height * (width + 1));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows[y * (width + 1) + 1 + x] = index.get(rgb.readUIntBE((y * width + x) * 3, 3)) ?? 0;
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per index
  header[9] = 3; // palette
  const plte = Buffer.alloc(palette.length * 3);
  for (const [i, color] of palette.entries()) plte.writeUIntBE(color, i * 3, 3);
  const out = Buffer.concat([
    SIGNATURE,
    chunk('IHDR', header),
    chunk('PLTE', plte),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  return out.length < png.length ? out : png;
}
