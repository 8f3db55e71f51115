/**
 * runTrain writes its own report (report.html + report.json) with every option resolved, and a
 * multi-label run calibrates its decision threshold on validation, stores it in meta.json, and eval
 * uses it; without validation it stays 0.5 and the report says so.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../tmp.js';
import { synthetic } from '../fixtures/synthetic.js';
import { FeatureCache, makeHeader } from '../../src/cache/index.js';
import { runEval } from '../../src/jobs/eval.js';
import { runLrFind } from '../../src/jobs/lr-find.js';
import { runTrain } from '../../src/jobs/train.js';
import { readMeta } from '../../src/train/export.js';
import type { TrainReport } from '../../src/report/types.js';

async function cacheOf(dir: string, n: number, seed: number): Promise<string> {
  const classes = ['a', 'b', 'c'];
  const shape = [2, 2, 8];
  const set = synthetic(n, shape, classes, seed, true);
  const header = makeHeader({
    backbone: { id: 'bundled-mobilenet-v2', weightsHash: '1a2b3c4d5e6f7a8b9c0d', cut: 'out_relu', kind: 'layers' },
    preprocess: { size: 224, range: [0, 1], fit: 'cover' },
    featureShape: shape,
    dtype: 'float32',
    classes,
    multiLabel: true,
  });
  const cache = FeatureCache.create(dir, header);
  const d = 2 * 2 * 8;
  const maps = new Float32Array(n * d);
  set.readRows(Int32Array.from({ length: n }, (_, i) => i), maps);
  cache.putMany(
    Array.from({ length: n }, (_, i) => ({
      key: `k${seed}-${i}`,
      id: `img/${i}.png`,
      source: `img/${i}.png`,
      labels: classes.filter((_, c) => set.targets[i * 3 + c] > 0.5),
      features: maps.slice(i * d, (i + 1) * d),
    })),
  );
  await cache.close();
  return dir;
}

describe('runTrain reports and thresholds', () => {
  it('writes report.html and report.json with resolved options; the calibrated threshold reaches meta.json and eval', async () => {
    const dir = await tempDir('report');
    const train = await cacheOf(path.join(dir, 'train'), 60, 1);
    const valid = await cacheOf(path.join(dir, 'valid'), 45, 2);
    const out = path.join(dir, 'run');
    const r = await runTrain({ cache: train, valid, out, epochs: 3, batchSize: 16, seed: 1, combined: false });
    expect(r.reportHtml).toBe(path.resolve(out, 'report.html'));
    const html = await fs.readFile(r.reportHtml!, 'utf8');
    expect(html).toMatch(/Learning-rate finder/);
    expect(html).toMatch(/micro-F1 by decision threshold/);
    const report = JSON.parse(await fs.readFile(path.join(out, 'report.json'), 'utf8')) as TrainReport;
    // Every option, resolved: 'auto' became a number, defaults are written out.
    expect(report.options.lrRequested).toBe('auto');
    expect(typeof report.options.lr).toBe('number');
    expect(report.options.lr).toBe(report.lrFind!.suggestion);
    expect(report.options.epochs).toBe(3);
    expect(report.options).toMatchObject({ head: 'linear', batchSize: 16, optimizer: 'adam', schedule: 'cosine', dropout: 0, mixAt: 'features' });
    expect((report.options.mixup as Record<string, unknown>).alpha).toBe(0.4);
    const meta = await readMeta(out);
    expect((meta.training as { options: unknown }).options).toEqual(report.options);
    // meta.json's threshold is on the temperature-scaled probabilities eval and predict see.
    const T = meta.temperature!;
    expect(T).toBe(report.temperature!.temperature);
    const t = report.threshold!.threshold;
    expect(meta.threshold).toBeCloseTo(1 / (1 + Math.exp(-Math.log(t / (1 - t)) / T)), 6);
    // auto trains on ONNX Runtime here (onnxruntime-node loads), and both records say so.
    expect(report.options.trainEngine).toBe('auto');
    expect(report.trainEngine).toMatch(/^onnx \(onnxruntime/);
    expect((meta.training as { engine: string }).engine).toBe(report.trainEngine);
    expect(html).toMatch(/train engine <code>onnx/);
    const e = await runEval({ model: out, cache: valid });
    expect(e.metrics.kind === 'multi' && e.metrics.threshold).toBe(meta.threshold);
    // The same decisions as the head's own probabilities at the fitted threshold (defect 6's
    // figure is the in-sample one; the cross-fitted one sits beside it).
    expect(e.metrics.kind === 'multi' && e.metrics.microF1).toBeCloseTo(report.threshold!.microF1, 6);
    expect(report.metrics.kind === 'multi' && report.metrics.crossFitMicroF1).toBe(report.thresholdCrossFit!.microF1);
    expect(report.thresholdCrossFit!.folds).toHaveLength(2);
  });

  it('without validation the threshold stays 0.5 and the report says why', async () => {
    const dir = await tempDir('report');
    const train = await cacheOf(path.join(dir, 'train'), 60, 1);
    const out = path.join(dir, 'run');
    const lines: string[] = [];
    const r = await runTrain({ cache: train, out, epochs: 2, lr: 0.01, batchSize: 16, seed: 1, combined: false, log: (l) => lines.push(l) });
    expect(r.meta.threshold).toBe(0.5);
    expect(lines.join('\n')).toMatch(/threshold stays at 0\.5/);
    expect(await fs.readFile(r.reportHtml!, 'utf8')).toMatch(/No validation set: the decision threshold stays at 0\.5/);
  });
});

describe('predictedLabels', () => {
  it('applies the global threshold, or the per-class ones when calibrated so', async () => {
    const { predictedLabels } = await import('../../src/train/export.js');
    const probs = [0.2, 0.45, 0.9];
    expect(predictedLabels({ classes: ['a', 'b', 'c'], threshold: 0.4 }, probs)).toEqual(['b', 'c']);
    expect(predictedLabels({ classes: ['a', 'b', 'c'], threshold: 0.5 }, probs)).toEqual(['c']);
    expect(predictedLabels({ classes: ['a', 'b', 'c'], threshold: 0.5, thresholds: [0.1, 0.5, 0.95] }, probs)).toEqual(['a']);
  });
});

describe('runLrFind', () => {
  it('suggests a rate from a cache and writes the curve as SVG', async () => {
    const dir = await tempDir('lrfind');
    const cache = await cacheOf(path.join(dir, 'train'), 60, 1);
    const r = await runLrFind({ cache, batchSize: 16, plot: path.join(dir, 'plots', 'lr.svg') });
    expect(r.result.suggestion).toBeGreaterThan(0);
    expect(r.result.lrs.length).toBeGreaterThan(10);
    const svg = await fs.readFile(r.plot!, 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg).toMatch(/Learning-rate finder/);
  });

  it('runs its ramp on the engine asked for: onnx and tfjs give the same curve (linear head, no dropout)', async () => {
    const dir = await tempDir('lrfind-engines');
    const cache = await cacheOf(path.join(dir, 'train'), 60, 2);
    const onnx = await runLrFind({ cache, batchSize: 16, trainEngine: 'onnx' });
    const tfjs = await runLrFind({ cache, batchSize: 16, trainEngine: 'tfjs' });
    expect(onnx.result.engine).toMatch(/^onnx \(onnxruntime/);
    expect(tfjs.result.engine).toMatch(/^tfjs \(/);
    // The first 40 steps (rates up to ~1e-3): float32 rounding only, before the ramp amplifies it.
    onnx.result.losses.slice(0, 40).forEach((l, i) => expect(Math.abs(l - tfjs.result.losses[i]!)).toBeLessThan(1e-4));
    await expect(runLrFind({ cache, trainEngine: 'gpu' as never })).rejects.toThrow(/trainEngine/);
  });
});
