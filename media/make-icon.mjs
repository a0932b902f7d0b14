// Draws media/icon.png (128×128): MEGABYTE's two levels, patches above and the bytes they
// predict below, the last bytes outlined like ghost text. Plain Node (zlib for the PNG), no
// image tools; 4×4 supersampling for the anti-aliasing. Run: node media/make-icon.mjs
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const SIZE = 128;
const SS = 4; // samples per pixel side

const inRoundRect = (x, y, [x0, y0, x1, y1], r) => {
  if (x < x0 || x > x1 || y < y0 || y > y1) return false;
  const cx = Math.min(Math.max(x, x0 + r), x1 - r);
  const cy = Math.min(Math.max(y, y0 + r), y1 - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
};
const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
const mix = (a, b, t) => a.map((v, i) => v + (b[i] - v) * t);

// Shapes are painted in order; each is [test(x, y) → boolean, color(x, y) → [r, g, b], alpha].
const shapes = [];
const paint = (test, color, alpha = 1) => shapes.push({ test, color: typeof color === 'function' ? color : () => color, alpha });

// Background: a rounded square, deep violet at the top to near-black at the bottom.
const top = hex('#2d1f66');
const bottom = hex('#120d2b');
paint((x, y) => inRoundRect(x, y, [2, 2, 126, 126], 26), (_x, y) => mix(top, bottom, y / SIZE));

// Byte cells: 8 in two patches of 4.
const cell = 10.5;
const gap = 3.5;
const patchGap = 9;
const rowWidth = 8 * cell + 6 * gap + patchGap;
const left = (SIZE - rowWidth) / 2;
const cellX = (i) => left + i * (cell + gap) + (i >= 4 ? patchGap - gap : 0);
const bytesY = 70;

// Patches (global model): one bar over each group of 4 bytes.
const violet = hex('#a78bfa');
const pink = hex('#f472b6');
for (const p of [0, 1]) {
  const x0 = cellX(4 * p);
  const x1 = cellX(4 * p + 3) + cell;
  paint((x, y) => inRoundRect(x, y, [x0, 34, x1, 52], 6), (x) => mix(violet, pink, (x - left) / rowWidth));
  // Stems from each patch down to its bytes (local model).
  for (let i = 4 * p; i < 4 * p + 4; i++) {
    const cx = cellX(i) + cell / 2;
    paint((x, y) => Math.abs(x - cx) <= 0.9 && y > 52 && y < bytesY, [200, 190, 255], 0.35);
  }
}

// Bytes (local model): the first five generated, the last three outlined like ghost text.
const teal = hex('#5eead4');
const cyan = hex('#38bdf8');
for (let i = 0; i < 8; i++) {
  const box = [cellX(i), bytesY, cellX(i) + cell, bytesY + 20];
  if (i < 5) {
    paint((x, y) => inRoundRect(x, y, box, 3), mix(teal, cyan, i / 7));
  } else {
    const inner = [box[0] + 1.6, box[1] + 1.6, box[2] - 1.6, box[3] - 1.6];
    paint((x, y) => inRoundRect(x, y, box, 3) && !inRoundRect(x, y, inner, 1.6), [200, 210, 230], 0.55);
  }
}
// The cursor between what is written and what is suggested.
const caretX = (cellX(4) + cell + cellX(5)) / 2;
paint((x, y) => Math.abs(x - caretX) <= 1.1 && y >= bytesY - 4 && y <= bytesY + 24, [255, 255, 255]);

// A baseline under the bytes, like a line of text.
paint((x, y) => y >= 100 && y <= 102.2 && x >= left && x <= left + rowWidth * 0.62, [167, 139, 250], 0.45);

const rgba = Buffer.alloc(SIZE * SIZE * 4);
for (let py = 0; py < SIZE; py++) {
  for (let px = 0; px < SIZE; px++) {
    let acc = [0, 0, 0, 0]; // premultiplied
    for (let sy = 0; sy < SS; sy++) {
      for (let sx = 0; sx < SS; sx++) {
        const x = px + (sx + 0.5) / SS;
        const y = py + (sy + 0.5) / SS;
        let c = [0, 0, 0];
        let a = 0;
        for (const s of shapes) {
          if (!s.test(x, y)) continue;
          const col = s.color(x, y);
          c = c.map((v, i) => col[i] * s.alpha + v * (1 - s.alpha));
          a = s.alpha + a * (1 - s.alpha);
        }
        acc = [acc[0] + c[0], acc[1] + c[1], acc[2] + c[2], acc[3] + a];
      }
    }
    const n = SS * SS;
    const alpha = acc[3] / n;
    const o = (py * SIZE + px) * 4;
    // c was composited over black, so it is premultiplied by coverage: divide it back out.
    for (let i = 0; i < 3; i++) rgba[o + i] = alpha > 0 ? Math.round(Math.min(255, acc[i] / n / alpha)) : 0;
    rgba[o + 3] = Math.round(alpha * 255);
  }
}

// PNG: signature, IHDR, one IDAT (each row prefixed by filter byte 0), IEND.
const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (buf) => {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type, data) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
};
const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(SIZE, 0);
ihdr.writeUInt32BE(SIZE, 4);
ihdr[8] = 8; // bit depth
ihdr[9] = 6; // RGBA
const raw = Buffer.alloc(SIZE * (SIZE * 4 + 1));
for (let y = 0; y < SIZE; y++) rgba.copy(raw, y * (SIZE * 4 + 1) + 1, y * SIZE * 4, (y + 1) * SIZE * 4);
const png = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  chunk('IHDR', ihdr),
  chunk('IDAT', deflateSync(raw, { level: 9 })),
  chunk('IEND', Buffer.alloc(0)),
]);
writeFileSync(new URL('./icon.png', import.meta.url), png);
console.log(`wrote media/icon.png (${png.length} bytes)`);
