/**
 * Checks an ONNX backbone against PyTorch end to end, with the commands a user types: a folder made
 * by scripts/torchvision-onnx.py (model.onnx, data/, expected.json + expected.bin) goes through
 *
 *   mixhead backbones --inspect DIR/model.onnx                      (picks the last 7×7 cut point)
 *   mixhead precompute --data DIR/data --cache DIR/cache --backbone DIR/model.onnx --node NODE --normalize imagenet --dtype float32
 *   mixhead train --cache DIR/cache --out DIR/run --head linear --valid-split 0.25 --batch-size 8 --epochs 60 --lr 0.01 --seed 0 --no-combined
 *
 * and prints the largest |mixhead − PyTorch| over every cached map, and the head's accuracy.
 *
 *   npx tsx scripts/onnx-check.ts --dir models/tv-resnet50
 */
import { spawnSync } from 'node:child_process';
import { promises as fs, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FeatureCache } from '../src/cache/index.js';
import { scriptArgs } from './script-args.js';

const USAGE = 'usage: tsx scripts/onnx-check.ts --dir DIR (made by scripts/torchvision-onnx.py)';
const args = scriptArgs({ dir: { type: 'string' } }, USAGE);
if (!args.dir) {
  console.error(USAGE);
  process.exit(2);
}
const dir = path.resolve(args.dir);
const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.ts');

function mixhead(...argv: string[]): string {
  console.log(`$ mixhead ${argv.map((a) => a.replace(dir, 'DIR')).join(' ')}`);
  const t = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...argv], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`mixhead ${argv[0]} exited ${r.status}: ${r.stderr.trim().split('\n').pop()}`);
  console.log(`  (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  return r.stdout;
}

const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { arch: string; torch: string; featureShape: number[]; images: { image: string; offset: number }[] };
const refBytes = readFileSync(path.join(dir, 'expected.bin'));
const ref = new Float32Array(refBytes.buffer, refBytes.byteOffset, refBytes.byteLength / 4);
const model = path.join(dir, 'model.onnx');

const inspected = JSON.parse(mixhead('backbones', '--inspect', model, '--json')) as { cutPoints: { node: string; featureShape: number[] }[] };
const want = expected.featureShape.join('×');
const cut = [...inspected.cutPoints].reverse().find((c) => c.featureShape.join('×') === want);
if (!cut) throw new Error(`no cut point of ${want} in ${model}`);
console.log(`  cut: ${cut.node}, the last ${want} one of ${inspected.cutPoints.length} cut points`);

const cache = path.join(dir, 'cache');
rmSync(cache, { recursive: true, force: true });
const pre = JSON.parse(mixhead('precompute', '--data', path.join(dir, 'data'), '--cache', cache, '--backbone', model, '--node', cut.node, '--normalize', 'imagenet', '--dtype', 'float32', '--json')) as { computed: number; imagesPerSecond: number; runtime: string };
console.log(`  ${pre.computed} images, ${pre.imagesPerSecond.toFixed(1)} img/s (${pre.runtime})`);

const c = FeatureCache.open(cache, { readonly: true });
let maxAbs = 0;
let maxRef = 0;
let compared = 0;
try {
  const bySource = new Map(c.metas().map((m) => [path.relative(dir, path.resolve(m.source)), m.key]));
  const n = expected.featureShape.reduce((a, b) => a * b, 1);
  for (const e of expected.images) {
    const key = bySource.get(e.image);
    if (!key) throw new Error(`${e.image} is not in the cache`);
    const got = c.get(key)!.features;
    for (let i = 0; i < n; i++) {
      const r = ref[e.offset + i];
      maxAbs = Math.max(maxAbs, Math.abs(got[i] - r));
      maxRef = Math.max(maxRef, Math.abs(r));
    }
    compared++;
  }
} finally {
  await c.close();
}
console.log(`  maps vs PyTorch ${expected.torch} (${expected.arch}): ${compared} images × ${want}, max |diff| ${maxAbs.toExponential(2)} (largest |value| ${maxRef.toFixed(2)}): ${maxAbs <= 1e-3 ? 'within' : 'NOT within'} 1e-3`);

const run = path.join(dir, 'run');
await fs.rm(run, { recursive: true, force: true });
const trained = JSON.parse(mixhead('train', '--cache', cache, '--out', run, '--head', 'linear', '--valid-split', '0.25', '--batch-size', '8', '--epochs', '60', '--lr', '0.01', '--seed', '0', '--no-combined', '--json')) as { metrics?: { accuracy?: number }; report?: string };
console.log(`  linear head on the ${want} maps: validation accuracy ${trained.metrics?.accuracy != null ? (100 * trained.metrics.accuracy).toFixed(1) : '?'}%`);
process.exitCode = maxAbs <= 1e-3 ? 0 : 1;
