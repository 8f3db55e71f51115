/**
 * The report's diagnostics: the reliability diagram's bars sit at each bin's accuracy with the
 * counts under them; the Δ heat map colours by direction and marks surviving verdicts; the train
 * report lists per-class P/R/F1, the most confused pairs, calibration before/after temperature and
 * top losses with thumbnails from source files still on disk (ids otherwise); the compare report
 * speaks per metric and shows the floors and one heat map per metric.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { deltaHeatMap, reliabilityDiagram } from '../../src/report/svg.js';
import { mostConfused, renderCompareReport, renderTrainReport } from '../../src/report/index.js';
import { singleLabelMetrics } from '../../src/train/metrics.js';
import { temperatureReport } from '../../src/train/calibration.js';
import { compareSettings, judge } from '../../src/jobs/compare.js';
import type { CompareReport, TrainReport } from '../../src/report/types.js';
import { Rng } from '../../src/base/random.js';
import { tempDir } from '../tmp.js';

function overconfidentRun(n: number, classes: string[], seed: number): { probs: Float32Array; labels: Int32Array } {
  const rng = new Rng(seed);
  const k = classes.length;
  const probs = new Float32Array(n * k);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = rng.int(k);
    const z = Array.from({ length: k }, (_, j) => (j === labels[i] ? 1.2 : 0) + rng.normal());
    const e = z.map((v) => Math.exp(3 * v));
    const s = e.reduce((a, b) => a + b, 0);
    probs.set(e.map((v) => v / s), i * k);
  }
  return { probs, labels };
}

describe('reliability diagram and Δ heat map', () => {
  it('bars at each bin accuracy, counts under them, empty bins blank', () => {
    const bins = Array.from({ length: 15 }, (_, b) => ({ lo: b / 15, hi: (b + 1) / 15, count: b === 14 ? 40 : b === 7 ? 10 : 0, confidence: b === 14 ? 0.98 : 0.5, accuracy: b === 14 ? 0.75 : 0.5 }));
    const svg = reliabilityDiagram({ title: 'r', bins });
    const bars = [...svg.matchAll(/<rect class="bin" x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(bars).toHaveLength(2);
    // Plot height 400 − 44 − 70 = 286: accuracy 0.5 → 143 px, 0.75 → 214.5 px.
    expect(bars[0][1]).toBeCloseTo(143, 0);
    expect(bars[1][1]).toBeCloseTo(214.5, 0);
    expect(svg).toMatch(/>40<\/text>/);
    expect(svg).toMatch(/>10<\/text>/);
  });

  it('heat map: green where better (lower NLL), red where worse, surviving verdicts outlined and marked', () => {
    const svg = deltaHeatMap({ title: 'Δ NLL', rows: ['mlp'], cols: ['features α 0.4', 'hidden α 0.4', 'hidden α 1'], cells: [[{ delta: -0.08, label: '−0.08', verdict: 'better' }, { delta: 0.02, label: '+0.02', verdict: 'no clear difference' }, undefined]], lowerIsBetter: true });
    const fills = [...svg.matchAll(/<rect class="cell" x="[\d.]+" y="[\d.]+" width="\d+" height="\d+" fill="([^"]+)" stroke="([^"]+)"/g)].map((m) => [m[1], m[2]]);
    expect(fills).toHaveLength(3);
    expect(fills[0][0]).toMatch(/^rgb\((\d+),235,\1\)$/); // green
    expect(fills[1][0]).toMatch(/^rgb\(245,(\d+),\1\)$/); // red
    expect(fills[2][0]).toBe('#f0f0f0');
    expect(fills[0][1]).toBe('#222');
    expect(svg).toContain('−0.08 ✓');
  });
});

describe('train report diagnostics', () => {
  it('per-class table, most confused pairs, calibration before/after T, top losses with a thumbnail where the file exists', async () => {
    const dir = await tempDir('diag');
    const classes = ['shirt', 'coat', 'bag', 'boot'];
    const { probs, labels } = overconfidentRun(200, classes, 4);
    const metrics = singleLabelMetrics(probs, labels, classes);
    const temperature = temperatureReport(probs, { labels }, 4, 0);
    const png = path.join(dir, 'worst.png');
    await sharp({ create: { width: 28, height: 28, channels: 3, background: { r: 200, g: 30, b: 30 } } }).png().toFile(png);
    const samples = metrics.topLosses.map((t, i) => ({ index: t.index, id: `img/${t.index}.png`, source: i === 0 ? png : path.join(dir, 'gone.png') }));
    const report: TrainReport = { kind: 'train', backend: 'cpu', cache: 'c', valid: 'v', trainSize: 100, validSize: 200, classes, options: {}, history: [{ epoch: 1, lr: 0.01, mixedLoss: 1, cleanLoss: 0.5, validLoss: 0.7, seconds: 1, samplesPerSecond: 1, numTensors: 1 }], bestEpoch: 1, stoppedEarly: false, stillImproving: false, lambdaHistogram: [0, 1], metrics, temperature, samples, seconds: 1 };
    const html = await fs.readFile(await renderTrainReport(report, dir), 'utf8');
    expect(html).toMatch(/<th>precision<\/th><th>recall<\/th><th>F1<\/th>/);
    const pairs = mostConfused(metrics.confusion, classes);
    expect(pairs[0].count).toBe(Math.max(...metrics.confusion.flatMap((r, i) => r.filter((_, j) => j !== i))));
    expect(html).toContain(`${pairs[0].truth} → ${pairs[0].predicted} (${pairs[0].count})`);
    expect(html).toMatch(/Reliability: the head as trained/);
    expect(html).toMatch(/Reliability after temperature T = /);
    expect(html).toContain(`NLL ${temperature.before.nll.toFixed(4)} → ${temperature.after.nll.toFixed(4)}`);
    // One thumbnail (the file that exists); every top loss named by its id.
    expect(html.match(/data:image\/png;base64,/g)).toHaveLength(1);
    for (const s of samples) expect(html).toContain(s.id);
    expect(await fs.readdir(path.join(dir, 'plots'))).toEqual(expect.arrayContaining(['reliability-before.png', 'reliability-after.png', 'confusion.png']));
  });
});

describe('compare report', () => {
  it('verdicts per metric in plain words, floors beside the heads, one Δ heat map per metric', async () => {
    const dir = await tempDir('cmp-report');
    const settings = compareSettings(['mlp'], ['features', 'hidden'], [0, 0.4]);
    const fake = (accuracy: number, nll: number, ece: number): TrainReport => ({
      kind: 'train', backend: 'cpu', cache: 'c', valid: 'v', trainSize: 10, validSize: 500, classes: ['a', 'b'], options: {}, history: [{ epoch: 1, lr: 0.01, mixedLoss: 1, cleanLoss: 0.5, validLoss: nll, seconds: 1, samplesPerSecond: 1, numTensors: 1 }], bestEpoch: 1, stoppedEarly: false, stillImproving: false, lambdaHistogram: [], seconds: 1,
      metrics: { kind: 'single', loss: nll, accuracy, top5: 1, perClass: [], confusion: [], macroF1: accuracy, balancedAccuracy: accuracy, nll, ece, brier: 0.3, reliability: [], topLosses: [] },
    });
    const results = new Map([
      ['mlp-no-mixing', [[0.8, 0.6, 0.08], [0.7, 0.7, 0.09], [0.75, 0.65, 0.085]].map(([a, n, e]) => fake(a, n, e))],
      ['mlp-features-a0.4', [[0.8, 0.59, 0.08], [0.71, 0.71, 0.088], [0.74, 0.66, 0.086]].map(([a, n, e]) => fake(a, n, e))],
      ['mlp-hidden-a0.4', [[0.81, 0.52, 0.03], [0.69, 0.61, 0.041], [0.75, 0.575, 0.034]].map(([a, n, e]) => fake(a, n, e))],
    ]);
    const rows = judge(settings, results, [0, 1, 2]);
    const report: CompareReport = { kind: 'compare', seeds: [0, 1, 2], rows, floors: [{ name: 'knn', description: 'kNN', metrics: { accuracy: { value: 0.7, sd: 0, values: [0.7] }, NLL: { value: 3, sd: 0, values: [3] }, ECE: { value: 0.2, sd: 0, values: [0.2] } }, seconds: 1 }], runs: [...results].flatMap(([name, rs]) => rs.map((r, seed) => ({ name, seed, report: r }))), options: {} };
    const html = await fs.readFile(await renderCompareReport(report, dir), 'utf8');
    expect(html).toMatch(/mlp vs mlp-no-mixing: accuracy: no clear difference; NLL: mlp-hidden-a0\.4 −0\.0817 \[[^\]]+\], better calibrated/);
    expect(html).toMatch(/floor: knn/);
    expect(html).toMatch(/Δ NLL vs no mixing/);
    expect(html).toMatch(/Δ ECE vs no mixing/);
    const plots = await fs.readdir(path.join(dir, 'plots'));
    expect(plots).toEqual(expect.arrayContaining(['compare-delta-accuracy.png', 'compare-delta-nll.png', 'compare-delta-ece.png']));
  });
});
