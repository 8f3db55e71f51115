import sharp from 'sharp';
import { Rng } from '../../src/base/random.js';

export const SCENE_CLASSES = ['red', 'green', 'blue'];

/**
 * A seeded photo-like picture whose dominant colour is its class: a gradient, ellipses, and fine
 * stripes plus noise (detail that a careless resize aliases). RGBA when `alpha`, with a soft
 * transparent border and a half-transparent band.
 */
export function scene(seed: number, width: number, height: number, cls: number, alpha = false): { data: Buffer; channels: 3 | 4 } {
  const rng = new Rng(seed);
  const ch = alpha ? 4 : 3;
  const colour = () => [0, 1, 2].map((c) => (c === cls ? 150 + 100 * rng.uniform() : 120 * rng.uniform()));
  const [a, b] = [colour(), colour()];
  const blobs = Array.from({ length: 7 }, () => ({ x: rng.uniform() * width, y: rng.uniform() * height, r: (0.05 + 0.2 * rng.uniform()) * Math.min(width, height), c: colour() }));
  const period = 2 + 5 * rng.uniform();
  const data = Buffer.alloc(width * height * ch);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x + y) / (width + height);
      let px = a.map((v, c) => v * (1 - t) + b[c] * t);
      for (const o of blobs) if ((x - o.x) ** 2 + (y - o.y) ** 2 < o.r * o.r) px = o.c;
      const stripe = 18 * Math.sin((2 * Math.PI * x) / period) + 24 * (rng.uniform() - 0.5);
      const i = (y * width + x) * ch;
      for (let c = 0; c < 3; c++) data[i + c] = Math.max(0, Math.min(255, Math.round(px[c] + stripe)));
      if (alpha) {
        const edge = Math.min(x, y, width - 1 - x, height - 1 - y) / (0.1 * Math.min(width, height));
        data[i + 3] = Math.round(255 * Math.min(1, edge) * (y > height * 0.45 && y < height * 0.55 ? 0.5 : 1));
      }
    }
  }
  return { data, channels: ch };
}

export async function sceneJpeg(seed: number, width: number, height: number, cls: number, quality = 90): Promise<Buffer> {
  const { data, channels } = scene(seed, width, height, cls);
  return sharp(data, { raw: { width, height, channels } }).jpeg({ quality }).toBuffer();
}
