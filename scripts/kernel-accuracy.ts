/**
 * Accuracy cost of the resize kernel (issue 12): the same Fashion-MNIST sample precomputed with
 * `triangle` (portable, src/preprocess/index.ts) and with `sharp-linear` (the previous libvips kernel),
 * a linear head trained on each with several seeds, test accuracy compared. Slow (two precomputes):
 * not part of npm test or npm run bench.
 *
 *   npx tsx scripts/kernel-accuracy.ts [--per-class 40] [--test-per-class 20] [--seeds 3] [--work DIR]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { selectBackend } from '../src/tfjs/backend.js';
import { writeFashionSample } from '../src/data/fashion.js';
import { precompute } from '../src/jobs/precompute.js';
import { runEval } from '../src/jobs/eval.js';
import { runTrain } from '../src/jobs/train.js';

const { values } = parseArgs({ options: { 'per-class': { type: 'string', default: '40' }, 'test-per-class': { type: 'string', default: '20' }, seeds: { type: 'string', default: '3' }, work: { type: 'string' } } });
await selectBackend({ force: process.env.MIXHEAD_BACKEND ?? 'wasm' });
const work = values.work ?? (await mkdtemp(path.join(os.tmpdir(), 'mixhead-kernel-acc-')));
await writeFashionSample({ out: path.join(work, 'train'), perClass: Number(values['per-class']), split: 'train' });
await writeFashionSample({ out: path.join(work, 'test'), perClass: Number(values['test-per-class']), split: 'test' });
for (const kernel of ['triangle', 'sharp-linear'] as const) {
  const caches: string[] = [];
  let rate = 0;
  for (const split of ['train', 'test']) {
    const cache = path.join(work, `cache-${kernel}-${split}`);
    const r = await precompute({ data: path.join(work, split), cache, backbone: { preprocess: { kernel } }, progress: false });
    rate += r.imagesPerSecond / 2;
    caches.push(cache);
  }
  const acc: number[] = [];
  for (let seed = 0; seed < Number(values.seeds); seed++) {
    const out = path.join(work, `run-${kernel}-${seed}`);
    await runTrain({ cache: caches[0], out, head: 'linear', epochs: 20, seed });
    const e = await runEval({ model: out, cache: caches[1] });
    acc.push((e.metrics as unknown as { accuracy: number }).accuracy);
  }
  const mean = acc.reduce((a, b) => a + b, 0) / acc.length;
  console.log(`${kernel}: test accuracy ${acc.map((a) => a.toFixed(4)).join(' ')} (mean ${mean.toFixed(4)}), precompute ${rate.toFixed(1)} img/s`);
}
if (!values.work) await rm(work, { recursive: true, force: true });
