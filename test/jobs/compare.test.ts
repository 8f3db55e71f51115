/**
 * Seed-aware compare: mean ± sd over seeds, the paired interval against α = 0, a winner only when
 * its interval lies above 0, ties never starred; the report highlights the winner and speaks of the
 * run's own classes; more than ten curves stay distinguishable.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareSettings, judge, runCompare } from '../../src/jobs/compare.js';
import { formatCompareTable } from '../../src/report/format.js';
import { lineChart } from '../../src/report/svg.js';
import type { TrainReport } from '../../src/report/types.js';
import { FeatureCache, makeHeader } from '../../src/cache/index.js';
import { synthetic } from '../fixtures/synthetic.js';
import { tempDir } from '../tmp.js';

function fake(accuracy: number): TrainReport {
  const metrics = { kind: 'single' as const, loss: 1 - accuracy, accuracy, top5: 1, perClass: [], confusion: [] };
  const epoch = { epoch: 1, lr: 0.01, mixedLoss: 1, cleanLoss: 0.5, validLoss: 1 - accuracy, seconds: 1, samplesPerSecond: 1, numTensors: 1 };
  return { kind: 'train', backend: 'cpu', cache: 'c', valid: 'v', trainSize: 10, validSize: 100, classes: ['coat', 'bag'], options: {}, history: [epoch], bestEpoch: 1, stoppedEarly: false, stillImproving: false, lambdaHistogram: [], metrics, seconds: 1 };
}

describe('judging settings across seeds', () => {
  const settings = compareSettings(['mlp'], ['features'], [0, 0.2, 0.4, 1]);
  const seeds = [0, 1, 2];

  it('mean ± sd, the paired Δ, and a winner only when the interval excludes 0', () => {
    const results = new Map([
      ['mlp-no-mixup', [0.8, 0.7, 0.75].map(fake)],
      // Same seed-to-seed swings, +2 pp each time: clearly better despite an sd of 5 pp.
      ['mlp-features-a0.2', [0.82, 0.72, 0.77].map(fake)],
      // Higher mean but inconsistent: +6, −4, +4 pp.
      ['mlp-features-a0.4', [0.86, 0.66, 0.79].map(fake)],
      ['mlp-features-a1', [0.78, 0.68, 0.73].map(fake)],
    ]);
    const rows = judge(settings, results, seeds);
    const by = (n: string) => rows.find((r) => r.name === n)!;
    expect(by('mlp-no-mixup').verdict).toBe('baseline');
    expect(by('mlp-features-a0.2').value).toBeCloseTo(0.77, 12);
    expect(by('mlp-features-a0.2').sd).toBeCloseTo(0.05, 12);
    expect(by('mlp-features-a0.2').diff!.mean).toBeCloseTo(0.02, 12);
    expect(by('mlp-features-a0.2').verdict).toBe('better');
    expect(by('mlp-features-a0.4').verdict).toBe('no clear difference');
    expect(by('mlp-features-a1').verdict).toBe('worse');
    // The best mean (α = 0.4) is not the winner: its interval includes 0.
    expect(rows.filter((r) => r.winner).map((r) => r.name)).toEqual(['mlp-features-a0.2']);
    const text = formatCompareTable(rows);
    expect(text).toMatch(/77\.00% ± 5\.00/);
    expect(text).toMatch(/mlp: mlp-features-a0\.2 beats α = 0/);
    expect(text).not.toMatch(/\*/);
  });

  it('ties are never wins: equal results give "no clear difference" and no winner', () => {
    const same = [0.8, 0.7, 0.75].map(fake);
    const results = new Map(settings.map((s) => [s.name, same]));
    const rows = judge(settings, results, seeds);
    expect(rows.some((r) => r.winner)).toBe(false);
    expect(rows.filter((r) => r.alpha > 0).every((r) => r.verdict === 'no clear difference')).toBe(true);
    expect(formatCompareTable(rows)).toMatch(/mlp: no clear difference from α = 0/);
  });

  it('one seed: no interval, no winner', () => {
    const results = new Map(settings.map((s, i) => [s.name, [fake(0.7 + i / 100)]]));
    const rows = judge(settings, results, [0]);
    expect(rows.some((r) => r.winner)).toBe(false);
    expect(rows.filter((r) => r.alpha > 0).every((r) => r.verdict === 'one seed')).toBe(true);
  });
});

describe('compare charts', () => {
  it('more than ten curves: every curve has its own colour × dash pair', () => {
    const series = Array.from({ length: 14 }, (_, i) => ({ name: `s${i}`, points: [{ x: 0, y: i }, { x: 1, y: i + 1 }] }));
    const svg = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series });
    const styles = [...svg.matchAll(/<path d="[^"]*" fill="none" stroke="([^"]+)" stroke-width="2"(?: stroke-dasharray="([^"]+)")?/g)].map((m) => `${m[1]}|${m[2] ?? ''}`);
    expect(styles).toHaveLength(14);
    expect(new Set(styles).size).toBe(14);
  });
});

describe('runCompare', () => {
  it('trains every setting with each seed and writes a report that highlights the winner and names its classes', async () => {
    const dir = await tempDir('cmp');
    const classes = ['tulip', 'rose', 'daisy'];
    const shape = [2, 2, 8];
    const header = makeHeader({ backbone: { id: 'bundled-mobilenet-v2', weightsHash: '1a2b3c4d5e6f7a8b9c0d', cut: 'out_relu', kind: 'layers' }, preprocess: { size: 224, range: [0, 1], fit: 'cover' }, featureShape: shape, dtype: 'float32', classes, multiLabel: false });
    const make = async (name: string, n: number, seed: number) => {
      const set = synthetic(n, shape, classes, seed);
      const maps = new Float32Array(n * 32);
      set.readRows(Int32Array.from({ length: n }, (_, i) => i), maps);
      const c = FeatureCache.create(path.join(dir, name), header);
      c.putMany(Array.from({ length: n }, (_, i) => ({ key: `${name}${i}`, id: `${i}.png`, source: `${i}.png`, labels: [classes[set.labelIndex[i]]], features: maps.slice(i * 32, (i + 1) * 32) })));
      await c.close();
      return path.join(dir, name);
    };
    const cache = await make('train', 36, 1);
    const valid = await make('valid', 30, 2);
    const out = path.join(dir, 'out');
    const r = await runCompare({ base: { cache, valid, epochs: 2, lr: 0.05, batchSize: 12 }, alphas: [0, 0.4], mixAts: ['features'], heads: ['linear'], seeds: 2, out });
    expect(r.rows.map((x) => x.values.length)).toEqual([2, 2]);
    expect(r.rows[1].diff).toBeDefined();
    const html = await fs.readFile(r.report, 'utf8');
    expect(html).toMatch(/2 seeds: 0, 1/);
    expect(html).toMatch(/70% &quot;tulip&quot; \/ 30% &quot;daisy&quot;/); // the mixed-loss example uses the run's own classes
    expect(html).not.toMatch(/coat/);
    expect(html.includes('class="winner"')).toBe(r.rows.some((x) => x.winner));
    const report = JSON.parse(await fs.readFile(path.join(out, 'report.json'), 'utf8'));
    expect(report.options).toMatchObject({ seeds: 2, alphas: [0, 0.4], batchSize: 12, optimizer: 'adam' });
  });
});
