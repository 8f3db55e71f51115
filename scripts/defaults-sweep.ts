/**
 * Defaults against a small hand sweep (README "Defaults"): trains each head once with the defaults
 * (lr and epochs 'auto') and once per lr × epochs of the sweep, on the same caches and seed, and
 * prints the validation metric of the returned (best-epoch) head. Multi-label rows also give mAP and
 * micro-F1 at the threshold calibrated on the same validation set.
 *
 *   npx tsx scripts/defaults-sweep.ts --train C --valid V [--heads linear,mlp,conv]
 *     [--lrs 1e-3,3e-3,1e-2,3e-2] [--epochs 20,50,100] [--skip-default] [--json out.json]
 */
import { parseArgs } from 'node:util';
import { promises as fs } from 'node:fs';
import { selectBackend } from '../src/tfjs/backend.js';
import { CacheReader } from '../src/cache/reader.js';
import { cacheFeatureSet } from '../src/train/features.js';
import { predictSet, trainHead, type TrainArgs } from '../src/train/trainer.js';
import { disposeHead, type HeadType } from '../src/train/heads.js';
import { calibrateThreshold, multiLabelMetrics } from '../src/train/metrics.js';

const { values } = parseArgs({
  options: {
    train: { type: 'string' },
    valid: { type: 'string' },
    heads: { type: 'string', default: 'linear,mlp,conv' },
    lrs: { type: 'string', default: '1e-3,3e-3,1e-2,3e-2' },
    epochs: { type: 'string', default: '20,50,100' },
    json: { type: 'string' },
    seed: { type: 'string', default: '0' },
    'skip-default': { type: 'boolean', default: false },
  },
});
if (!values.train || !values.valid) {
  console.error('usage: npx tsx scripts/defaults-sweep.ts --train CACHE --valid CACHE [--heads …] [--lrs …] [--epochs …]');
  process.exit(2);
}
await selectBackend({});
const trainReader = CacheReader.open(values.train);
const validReader = CacheReader.open(values.valid);
const train = cacheFeatureSet(trainReader);
const valid = cacheFeatureSet(validReader);
const rows: Record<string, unknown>[] = [];
const seed = Number(values.seed);

async function one(head: HeadType, lr: number | 'auto', epochs: number | 'auto') {
  const t0 = performance.now();
  const args: TrainArgs = { head, lr, epochs, seed };
  const r = await trainHead(train, valid, args);
  const row: Record<string, unknown> = { head, lr: lr === 'auto' ? `auto (${r.lr.toExponential(1)})` : lr, epochs: epochs === 'auto' ? `auto (${r.epochs})` : epochs, bestEpoch: r.bestEpoch };
  if (valid.multiLabel) {
    const probs = predictSet(r.head, valid);
    const cal = calibrateThreshold(probs, valid.targets, valid.classes.length);
    const m = multiLabelMetrics(probs, valid.targets, valid.classes.length, cal.threshold);
    Object.assign(row, { mAP: m.mAP, microF1: m.microF1, threshold: cal.threshold, microF1At05: cal.microF1At05 });
  } else if (r.best?.kind === 'single') {
    row.accuracy = r.best.accuracy;
  }
  row.seconds = (performance.now() - t0) / 1000;
  disposeHead(r.head);
  rows.push(row);
  console.log(JSON.stringify(row));
}

for (const head of values.heads!.split(',') as HeadType[]) {
  if (!values['skip-default']) await one(head, 'auto', 'auto');
  for (const lr of values.lrs!.split(',').map(Number)) for (const e of values.epochs!.split(',').map(Number)) await one(head, lr, e);
}
if (values.json) await fs.writeFile(values.json, JSON.stringify(rows, null, 2));
await trainReader.close();
await validReader.close();
