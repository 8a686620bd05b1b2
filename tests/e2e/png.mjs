// Test images without an image library: PNGs built by hand.
import zlib from 'node:zlib';

/** A small RGBA PNG built by hand (no image library in the suite): a red-to-blue gradient. */
export function png(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; ihdr[9] = 6; // 8-bit RGBA
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 4);
    for (let x = 0; x < width; x++) row.set([Math.round((255 * x) / width), 0, 255 - Math.round((255 * x) / width), 255], 1 + x * 4);
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * Decodes an 8-bit, non-interlaced PNG (grey, grey+alpha, RGB or RGBA: what edgewrite encodes)
 * into `{ width, height, pixel(x, y) → [r, g, b, a] }`, so a test checks pixels, not only a header.
 */
export function decodePng(bytes) {
  const buf = Buffer.from(bytes);
  if (buf.subarray(1, 4).toString() !== 'PNG') throw new Error('not a PNG');
  let offset = 8;
  let header;
  const data = [];
  while (offset < buf.length) {
    const length = buf.readUInt32BE(offset);
    const type = buf.subarray(offset + 4, offset + 8).toString();
    const body = buf.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') header = { width: body.readUInt32BE(0), height: body.readUInt32BE(4), depth: body[8], colorType: body[9], interlace: body[12] };
    if (type === 'IDAT') data.push(body);
    offset += 12 + length;
  }
  const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[header.colorType];
  if (header.depth !== 8 || !channels || header.interlace) throw new Error(`unsupported PNG ${JSON.stringify(header)}`);
  const raw = zlib.inflateSync(Buffer.concat(data));
  const stride = header.width * channels;
  const out = Buffer.alloc(stride * header.height);
  for (let y = 0; y < header.height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i];
      const a = i >= channels ? out[y * stride + i - channels] : 0;
      const b = y > 0 ? out[(y - 1) * stride + i] : 0;
      const c = i >= channels && y > 0 ? out[(y - 1) * stride + i - channels] : 0;
      const paeth = () => {
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      };
      const predictor = [0, a, b, (a + b) >> 1, filter === 4 ? paeth() : 0][filter];
      out[y * stride + i] = (x + predictor) & 0xff;
    }
  }
  return {
    width: header.width,
    height: header.height,
    pixel(x, y) {
      const p = out.subarray(y * stride + x * channels, y * stride + (x + 1) * channels);
      if (channels === 1) return [p[0], p[0], p[0], 255];
      if (channels === 2) return [p[0], p[0], p[0], p[1]];
      if (channels === 3) return [p[0], p[1], p[2], 255];
      return [...p];
    },
  };
}
