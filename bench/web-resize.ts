/**
 * Workload `web-resize`: what the portable `triangle` kernel (src/preprocess/index.ts: sharp decodes
 * at full resolution, then the resize runs in WebAssembly SIMD with the bytes of the plain JS that
 * browsers run) costs against the kernel it
 * replaced, `sharp-linear` (libvips' linear reduce after JPEG shrink-on-load), in the same run:
 *   - decode+resize img/s on photo JPEGs (1280×960 and 2592×1944), 4 decodes in flight as precompute does;
 *   - end-to-end precompute img/s (bundled MobileNetV2, 1 worker) on a folder of 1280×960 JPEGs.
 * `mixhead` is triangle, `reference` is sharp-linear, ratio = mixhead / reference (higher is better).
 *
 *   npx tsx bench/web-resize.ts [--quick]     (standalone; also a workload of npm run bench)
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { Rng } from '../src/base/random.js';
import { decodeBatches } from '../src/data/image.js';
import type { DataItem } from '../src/data/types.js';
import type { PreprocessSpec } from '../src/backbone/types.js';
import { precompute } from '../src/jobs/precompute.js';

import type { BenchContext, BenchRow } from './lib.js';

/** A seeded photo-like JPEG: gradient, discs, stripes and noise (no flat areas for the codec to skip). */
async function photo(seed: number, width: number, height: number): Promise<Buffer> {
  const rng = new Rng(seed);
  const data = Buffer.alloc(width * height * 3);
  const discs = Array.from({ length: 12 }, () => ({ x: rng.uniform() * width, y: rng.uniform() * height, r: rng.uniform() * height * 0.3, c: [0, 1, 2].map(() => 255 * rng.uniform()) }));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let c = [(255 * x) / width, (255 * y) / height, 128];
      for (const d of discs) if ((x - d.x) ** 2 + (y - d.y) ** 2 < d.r * d.r) c = d.c;
      const n = 20 * Math.sin(x / 1.7) + 30 * (rng.uniform() - 0.5);
      for (let k = 0; k < 3; k++) data[(y * width + x) * 3 + k] = Math.max(0, Math.min(255, c[k] + n));
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

async function decodeRate(items: DataItem[], spec: PreprocessSpec): Promise<number> {
  const t = performance.now();
  let n = 0;
  for await (const b of decodeBatches(items, spec, { batchSize: 16, concurrency: 4 })) n += b.items.length;
  return n / ((performance.now() - t) / 1000);
}

const SPEC = (kernel: 'triangle' | 'sharp-linear'): PreprocessSpec => ({ size: 224, range: [0, 1], fit: 'cover', kernel });

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const reps = ctx.quick ? 24 : 64;
  const dir = path.join(ctx.outDir, 'web-resize');
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const [w, h] of [
    [1280, 960],
    [2592, 1944],
  ]) {
    const distinct: string[] = [];
    for (let s = 0; s < 4; s++) {
      distinct.push(path.join(dir, `${w}-${s}.jpg`));
      await writeFile(distinct[s], await photo(s + w, w, h));
    }
    const items: DataItem[] = Array.from({ length: reps }, (_, i) => ({ id: `${i}`, source: distinct[i % 4], labels: ['x'] }));
    await decodeRate(items.slice(0, 8), SPEC('triangle')); // warm-up (JIT, sharp's thread pool)
    await decodeRate(items.slice(0, 8), SPEC('sharp-linear'));
    // Interleaved, best of two each, so load from other processes hits both alike.
    const tri = Math.max(await decodeRate(items, SPEC('triangle')), await decodeRate(items, SPEC('triangle')));
    const lin = Math.max(await decodeRate(items, SPEC('sharp-linear')), await decodeRate(items, SPEC('sharp-linear')));
    rows.push({ workload: 'web-resize', metric: `decode+resize ${w}×${h} JPEG → 224`, unit: 'img/s', mixhead: tri, reference: lin, ratio: tri / lin, note: 'triangle vs sharp-linear, 4 in flight' });
  }
  // End to end: the backbone runs too, so the decode cost shows as much as it matters.
  const n = ctx.quick ? 32 : 96;
  for (let i = 0; i < n; i++) {
    await mkdir(path.join(dir, 'data', `c${i % 2}`), { recursive: true });
    await writeFile(path.join(dir, 'data', `c${i % 2}`, `${i}.jpg`), await photo(1000 + i, 1280, 960));
  }
  const rate = async (kernel: 'triangle' | 'sharp-linear') => {
    const r = await precompute({ data: path.join(dir, 'data'), cache: path.join(dir, `cache-${kernel}`), backbone: { preprocess: { kernel } }, workers: 1, progress: false });
    if (r.header.preprocess.kernel !== kernel) throw new Error(`precompute used kernel ${r.header.preprocess.kernel}, not ${kernel}`);
    return r.imagesPerSecond;
  };
  const tri = await rate('triangle');
  const lin = await rate('sharp-linear');
  rows.push({ workload: 'web-resize', metric: `precompute ${n} JPEGs 1280×960, 1 worker`, unit: 'img/s', mixhead: tri, reference: lin, ratio: tri / lin, note: 'bundled MobileNetV2, decode included' });
  await rm(dir, { recursive: true, force: true });
  return rows;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { selectBackend } = await import('../src/tfjs/backend.js');
  await selectBackend({ force: process.env.MIXHEAD_BACKEND ?? 'wasm' });
  const outDir = path.join(os.tmpdir(), 'mixhead-bench');
  const rows = await run({ quick: process.argv.includes('--quick'), outDir, python: null, workDir: outDir, backend: 'wasm', details: {}, budgetMiB: 0, cgroup: false });
  for (const r of rows) console.log(`${r.metric}: triangle ${r.mixhead.toFixed(1)} ${r.unit}, sharp-linear ${r.reference?.toFixed(1)} ${r.unit}, ratio ${r.ratio?.toFixed(2)}`);
}
