/**
 * precompute: Fashion-MNIST PNGs → 7×7×1280 MobileNetV2 maps, decode included, 2 workers and 1
 * (PyTorch reference: its own decode + resize + forward loop); decoding alone for PNGs and
 * photo-sized JPEGs.
 */
import { existsSync, promises as fs, rmSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { Rng } from '../src/base/random.js';
import { ExtractorPool } from '../src/backbone/pool.js';
import type { CacheDtype } from '../src/cache/index.js';
import { decodeImage } from '../src/data/image.js';
import { writeFashionSample } from '../src/data/fashion.js';
import { precompute } from '../src/jobs/precompute.js';
import { fmt, log, mobilenetV2Macs, now, reference, row, type BenchContext, type BenchRow } from './lib.js';

/** Photo-like 1600×1200 JPEGs: smooth upscaled noise plus grain, seeded. */
async function writePhotos(dir: string, n: number, seed: number): Promise<void> {
  const name = (i: number) => path.join(dir, `p${String(i).padStart(3, '0')}.jpg`);
  if (existsSync(name(n - 1))) return; // written in order: the last one means all are there
  await fs.mkdir(dir, { recursive: true });
  const rng = new Rng(seed);
  for (let i = 0; i < n; i++) {
    const w = 160;
    const h = 120;
    const px = Buffer.alloc(w * h * 3);
    for (let j = 0; j < px.length; j++) px[j] = rng.int(256);
    const base = await sharp(px, { raw: { width: w, height: h, channels: 3 } }).resize(1600, 1200, { kernel: 'cubic' }).blur(2).raw().toBuffer();
    for (let j = 0; j < base.length; j += 7) base[j] = Math.min(255, base[j]! + rng.int(24));
    await sharp(base, { raw: { width: 1600, height: 1200, channels: 3 } }).jpeg({ quality: 90 }).toFile(name(i));
  }
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const perClass = ctx.quick ? 10 : 25; // speed set: 100 / 250 images
  const data = path.join(ctx.workDir, 'data');
  const speedDir = path.join(data, `fm-speed-${perClass}`);
  if (!existsSync(speedDir)) await writeFashionSample({ out: speedDir, perClass, split: 'train' });
  const nSpeed = perClass * 10;
  const caches = path.join(ctx.workDir, 'caches');
  const fresh = (name: string) => {
    const dir = path.join(caches, name);
    rmSync(dir, { recursive: true, force: true });
    return dir;
  };
  const flopsPerImage = 2 * mobilenetV2Macs(224);

  // Worker start-up (model load per worker), measured on its own: precompute's own timing includes it.
  const startup: Record<number, number> = {};
  for (const workers of [1, 2]) {
    const t = now();
    const pool = await ExtractorPool.start({ backbone: { preprocess: {} }, workers, backend: ctx.backend });
    startup[workers] = now() - t;
    await pool.close();
  }
  const measure = async (dir: string, cache: string, workers: number, dtype: CacheDtype) => {
    const t = now();
    const r = await precompute({ data: dir, cache, workers, dtype, backend: ctx.backend, engine: 'tfjs', progress: false });
    const wall = now() - t;
    return { images: r.computed, wall, reported: r.imagesPerSecond, steady: r.computed / Math.max(1e-9, wall - startup[workers]!), workers: r.workers };
  };
  log(`precompute: ${nSpeed} PNGs, 2 workers`);
  const w2 = await measure(speedDir, fresh('speed-w2'), 2, 'float16');
  log(`precompute: ${nSpeed} PNGs, 1 worker`);
  const w1 = await measure(speedDir, fresh('speed-w1'), 1, 'float16');
  log(`precompute: ${nSpeed} PNGs, PyTorch`);
  const torch = await reference<{ imagesPerSecond: number; decodeSeconds: number; forwardSeconds: number; seconds: number; images: number }>(ctx, ['precompute', '--data', speedDir, '--batch', '16']);
  ctx.details.precompute = { images: nSpeed, startupSeconds: startup, w2, w1, torch, flopsPerImage };
  const note = (r: typeof w2) => `end to end ${fmt(r.reported)} img/s incl. ${startup[r.workers]!.toFixed(1)} s worker start-up`;
  rows.push(
    row({
      workload: 'precompute',
      metric: `${nSpeed} Fashion PNGs → 7×7×1280, 2 workers`,
      mixhead: w2.steady,
      reference: torch?.imagesPerSecond,
      unit: 'img/s',
      target: '≥ 2×',
      pass: torch ? w2.steady / torch.imagesPerSecond >= 2 : undefined,
      gflopsMixhead: (w2.steady * flopsPerImage) / 1e9,
      gflopsReference: torch ? (torch.imagesPerSecond * flopsPerImage) / 1e9 : undefined,
      note: `${note(w2)}; PyTorch batch 16, 2 threads, decode ${torch ? ((100 * torch.decodeSeconds) / torch.seconds).toFixed(0) : '?'}% of its time`,
    }),
    row({ workload: 'precompute', metric: 'same, 1 worker', mixhead: w1.steady, reference: torch?.imagesPerSecond, unit: 'img/s', gflopsMixhead: (w1.steady * flopsPerImage) / 1e9, note: note(w1) }),
    row({ workload: 'scaling', metric: 'precompute, 2 workers vs 1', mixhead: w2.steady / w1.steady, unit: '×', ratio: w2.steady / w1.steady, note: `${fmt(w1.steady)} → ${fmt(w2.steady)} img/s; ideal 2×` }),
  );

  // Decoding alone: the 28×28 PNGs, and photo-sized JPEGs (real photos cost far more to decode).
  const nPhotos = ctx.quick ? 16 : 48;
  const photoDir = path.join(data, `photos-1600x1200-${nPhotos}`);
  await writePhotos(photoDir, nPhotos, 7);
  const spec = { size: 224, range: [0, 1] as [number, number], fit: 'cover' as const };
  const decodeRate = async (dir: string) => {
    const files = (await fs.readdir(dir, { recursive: true })).filter((f) => /\.(png|jpg)$/.test(String(f))).sort().map((f) => path.join(dir, String(f)));
    const t = now();
    for (let i = 0; i < files.length; i += 16) await Promise.all(files.slice(i, i + 16).map(async (f) => decodeImage(await fs.readFile(f), spec)));
    return files.length / (now() - t);
  };
  const decPng = await decodeRate(speedDir);
  const decJpg = await decodeRate(photoDir);
  const tPng = (await reference<{ imagesPerSecond: number }>(ctx, ['decode', '--data', speedDir]))?.imagesPerSecond;
  const tJpg = (await reference<{ imagesPerSecond: number }>(ctx, ['decode', '--data', photoDir]))?.imagesPerSecond;
  ctx.details.decode = { pngPerSecond: decPng, jpegPerSecond: decJpg, torchPng: tPng, torchJpeg: tJpg };
  rows.push(
    row({ workload: 'precompute', metric: 'decode only, 28×28 PNG → 224²', mixhead: decPng, reference: tPng, unit: 'img/s', note: 'sharp (libuv pool, 16 at a time) vs PIL in one thread' }),
    row({ workload: 'precompute', metric: 'decode only, 1600×1200 JPEG → 224²', mixhead: decJpg, reference: tJpg, unit: 'img/s', note: `${nPhotos} synthetic photo-sized JPEGs: decode becomes a real share of precompute` }),
  );
  return rows;
}
