/**
 * Temperature scaling through the jobs: runTrain fits T on validation and stores it in meta.json
 * with the cross-fitted before/after in report.json; eval applies it (and reports the head's own
 * calibration beside it); a model without a temperature (older meta.json) is used as is.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../tmp.js';
import { synthetic } from '../fixtures/synthetic.js';
import { FeatureCache, makeHeader } from '../../src/cache/index.js';
import { runEval } from '../../src/jobs/eval.js';
import { runTrain } from '../../src/jobs/train.js';
import { readMeta } from '../../src/train/export.js';
import { applyTemperature, singleLabelCalibration } from '../../src/train/calibration.js';
import type { TrainReport } from '../../src/report/types.js';

async function cacheOf(dir: string, n: number, seed: number): Promise<string> {
  const classes = ['oak', 'elm', 'ash', 'yew'];
  const shape = [2, 2, 8];
  const set = synthetic(n, shape, classes, seed);
  const header = makeHeader({ backbone: { id: 'bundled-mobilenet-v2', weightsHash: '1a2b3c4d5e6f7a8b9c0d', cut: 'out_relu', kind: 'layers' }, preprocess: { size: 224, range: [0, 1], fit: 'cover' }, featureShape: shape, dtype: 'float32', classes, multiLabel: false });
  const cache = FeatureCache.create(dir, header);
  const d = 32;
  const maps = new Float32Array(n * d);
  set.readRows(Int32Array.from({ length: n }, (_, i) => i), maps);
  cache.putMany(Array.from({ length: n }, (_, i) => ({ key: `k${seed}-${i}`, id: `img/${i}.png`, source: `img/${i}.png`, labels: [classes[set.labelIndex[i]]], features: maps.slice(i * d, (i + 1) * d) })));
  await cache.close();
  return dir;
}

describe('temperature scaling in train and eval', () => {
  it('T is fitted on validation, saved in meta.json, applied by eval; the report cross-fits it', async () => {
    const dir = await tempDir('temp');
    const train = await cacheOf(path.join(dir, 'train'), 80, 1);
    const valid = await cacheOf(path.join(dir, 'valid'), 60, 2);
    const out = path.join(dir, 'run');
    // Many epochs at a high rate: an overconfident head, so T moves away from 1.
    await runTrain({ cache: train, valid, out, epochs: 30, lr: 0.1, batchSize: 16, seed: 3, combined: false, report: false });
    const meta = await readMeta(out);
    const report = JSON.parse(await fs.readFile(path.join(out, 'report.json'), 'utf8')) as TrainReport;
    expect(meta.temperature).toBe(report.temperature!.temperature);
    expect(meta.temperature).not.toBe(1);
    expect(report.temperature!.before.nll).toBeCloseTo(report.metrics.kind === 'single' ? report.metrics.nll : NaN, 12);
    const e = await runEval({ model: out, cache: valid });
    expect(e.temperature).toBe(meta.temperature);
    // eval's head-only figures equal train's; its own are the tempered ones, and T minimises the NLL on this set.
    expect(e.uncalibrated!.nll).toBeCloseTo(report.temperature!.before.nll, 5);
    expect(e.metrics.nll).toBeLessThanOrEqual(e.uncalibrated!.nll + 1e-9);
    expect(e.metrics.kind === 'single' && e.metrics.accuracy).toBe(report.metrics.kind === 'single' && report.metrics.accuracy);
    // Top losses name the samples by their cache id.
    expect(report.samples!.length).toBeGreaterThan(0);
    expect(report.samples![0].id).toMatch(/^img\/\d+\.png$/);

    // An older meta.json without a temperature: eval uses the head's probabilities as they are.
    const { temperature: _t, ...older } = meta;
    await fs.writeFile(path.join(out, 'meta.json'), JSON.stringify(older));
    const plain = await runEval({ model: out, cache: valid });
    expect(plain.temperature).toBe(1);
    expect(plain.uncalibrated).toBeUndefined();
    expect(plain.metrics.nll).toBeCloseTo(e.uncalibrated!.nll, 12);
  });

  it('applyTemperature on a saved T reproduces the tempered NLL from the head probabilities', () => {
    const probs = Float32Array.from([0.7, 0.2, 0.1, 0.05, 0.9, 0.05]);
    const labels = Int32Array.from([1, 1]);
    const t = 2;
    const scaled = applyTemperature(probs, 3, t, false);
    // softmax(log p / 2) = √p / Σ√p.
    const row = [0.7, 0.2, 0.1].map(Math.sqrt);
    expect(scaled[1]).toBeCloseTo(row[1] / (row[0] + row[1] + row[2]), 6);
    expect(singleLabelCalibration(scaled, labels, 3).nll).toBeGreaterThan(0);
  });
});
