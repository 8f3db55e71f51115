/**
 * The experiment of issue 21, on the Fashion-MNIST sample (800 training / 500 test images):
 *  1. cost: precompute of the training images at --views 1 and --views 4 (time, cache size);
 *  2. views 1 vs 4 for the linear and mlp heads, each evaluated on the test set's view 0 and with
 *     test-time augmentation over its 4 cached views, 3 seeds, paired differences (views 4 − views 1);
 *  3. a skewed sample (three classes cut to 10% of their training images): balanced accuracy and
 *     macro-F1 for --balance none | sampler | weights, 3 seeds (linear head).
 * Training uses mixhead's defaults (feature mixup α 0.4, lr from the lr finder, epochs from the set
 * size), no validation set (the last epoch's head), so the test set is used once per run.
 * Balanced accuracy and macro-F1 are computed here from the confusion matrix (scikit-learn's
 * definitions: mean per-class recall; mean per-class F1 with zero_division = 0).
 *
 *   npx tsx scripts/views-experiment.ts [--out runs/views-experiment] [--seeds 3] [--skip-mlp]
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { scriptArgs } from './script-args.js';
import { selectBackend, describeBackend } from '../src/tfjs/backend.js';
import { writeFashionSample } from '../src/data/fashion.js';
import { precompute } from '../src/jobs/precompute.js';
import { CacheReader } from '../src/cache/reader.js';
import { cacheFeatureSet, subsetFeatureSet, type FeatureSet } from '../src/train/features.js';
import { trainHead, type TrainArgs } from '../src/train/trainer.js';
import { disposeHead, type Head } from '../src/train/heads.js';
import { predictRows, predictRowsOverViews, scorerOf } from '../src/train/predict.js';
import type { BalanceMode } from '../src/train/balance.js';

const usage = 'usage: npx tsx scripts/views-experiment.ts [--out DIR] [--seeds N] [--skip-mlp]';
const values = scriptArgs({ out: { type: 'string', default: 'runs/views-experiment' }, seeds: { type: 'string', default: '3' }, 'skip-mlp': { type: 'boolean', default: false } }, usage);
const out = values.out!;
const seeds = Array.from({ length: Number(values.seeds) }, (_, i) => i);
mkdirSync(out, { recursive: true });
const log = (s: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
const info = await selectBackend({ log });
log(describeBackend(info));

// 1. Data and caches.
const trainDir = path.join(out, 'data', 'train');
const testDir = path.join(out, 'data', 'test');
await writeFashionSample({ out: trainDir, perClass: 80, split: 'train' });
await writeFashionSample({ out: testDir, perClass: 50, split: 'test' });
const duSize = (dir: string) => readdirSync(dir).reduce((a, f) => a + Math.min(statSync(path.join(dir, f)).size, statSync(path.join(dir, f)).blocks * 512), 0);
const cost: Record<string, { seconds: number; runSeconds: number; bytes: number; backboneImages: number }> = {};
for (const views of [1, 4]) {
  const cache = path.join(out, `cache-train-v${views}`);
  const r = await precompute({ data: trainDir, cache, views, backend: info.name, progress: false });
  cost[`views ${views}`] = { seconds: r.seconds, runSeconds: r.runSeconds, bytes: duSize(cache), backboneImages: r.backboneImages };
  log(`precompute --views ${views}: ${r.total} samples, ${r.backboneImages} backbone images, ${r.seconds.toFixed(1)} s (${r.runSeconds.toFixed(1)} s after start-up), ${(duSize(cache) / 2 ** 20).toFixed(1)} MiB`);
}
const testCache = path.join(out, 'cache-test-v4');
await precompute({ data: testDir, cache: testCache, views: 4, backend: info.name, progress: false });

const trainReader = CacheReader.open(path.join(out, 'cache-train-v4'));
const testReader = CacheReader.open(testCache);
const train4 = cacheFeatureSet(trainReader);
// The same samples with only view 0: byte for byte the --views 1 cache (test/jobs/precompute-views.test.ts).
const train1: FeatureSet = { ...train4, views: 1 };
const test = cacheFeatureSet(testReader);

interface Scores {
  accuracy: number;
  nll: number;
  balancedAccuracy: number;
  macroF1: number;
}

function scores(probs: Float32Array, labels: Int32Array, k: number): Scores {
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let nll = 0;
  for (let i = 0; i < labels.length; i++) {
    const row = probs.subarray(i * k, (i + 1) * k);
    let best = 0;
    for (let c = 1; c < k; c++) if (row[c]! > row[best]!) best = c;
    confusion[labels[i]!]![best]!++;
    nll -= Math.log(Math.max(row[labels[i]!]!, 1e-12));
  }
  const recalls: number[] = [];
  const f1s: number[] = [];
  let correct = 0;
  for (let c = 0; c < k; c++) {
    const tp = confusion[c]![c]!;
    correct += tp;
    const actual = confusion[c]!.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, r) => a + r[c]!, 0);
    if (actual > 0) recalls.push(tp / actual);
    const denom = actual + predicted;
    f1s.push(denom > 0 ? (2 * tp) / denom : 0);
  }
  return { accuracy: correct / labels.length, nll: nll / labels.length, balancedAccuracy: recalls.reduce((a, b) => a + b, 0) / recalls.length, macroF1: f1s.reduce((a, b) => a + b, 0) / k };
}

function evaluate(head: Head, tta: boolean): Scores {
  const scorer = scorerOf(head, false);
  const k = test.classes.length;
  const probs = tta ? predictRowsOverViews(scorer, test, k, test.views ?? 1) : predictRows(scorer, test, k);
  return scores(probs, test.labelIndex, k);
}

/** Mean and the 95% t-interval half-width of paired differences. */
function paired(d: number[]): { mean: number; half: number } {
  const n = d.length;
  const mean = d.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const t = [NaN, 12.706, 4.303, 3.182, 2.776, 2.571][n - 1] ?? 1.96;
  return { mean, half: (t * sd) / Math.sqrt(n) };
}

const results: Record<string, unknown> = { backend: describeBackend(info), cost };
const fmt = (x: number) => x.toFixed(4);

// 2. Views 1 vs 4, with and without TTA.
const heads = values['skip-mlp'] ? (['linear'] as const) : (['linear', 'mlp'] as const);
const viewRuns: { head: string; views: number; seed: number; seconds: number; plain: Scores; tta: Scores }[] = [];
for (const head of heads) {
  for (const seed of seeds) {
    for (const [views, set] of [
      [1, train1],
      [4, train4],
    ] as const) {
      const t0 = performance.now();
      const r = await trainHead(set, null, { head, seed } satisfies TrainArgs);
      const seconds = (performance.now() - t0) / 1000;
      const row = { head, views, seed, seconds, plain: evaluate(r.head, false), tta: evaluate(r.head, true) };
      disposeHead(r.head);
      viewRuns.push(row);
      log(`${head} views ${views} seed ${seed}: ${r.epochs} epochs, lr ${r.lr.toExponential(2)}, ${seconds.toFixed(1)} s; acc ${fmt(row.plain.accuracy)} (tta ${fmt(row.tta.accuracy)}), nll ${fmt(row.plain.nll)} (tta ${fmt(row.tta.nll)})`);
    }
  }
}
results.views = viewRuns;
const lines: string[] = ['## views 1 vs 4 (test set: 500 images; TTA = mean over its 4 cached views)', '', '| head | train views | eval | accuracy | NLL | balanced acc | macro-F1 |', '| --- | --- | --- | --- | --- | --- | --- |'];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
for (const head of heads) {
  for (const views of [1, 4]) {
    for (const mode of ['plain', 'tta'] as const) {
      const rs = viewRuns.filter((r) => r.head === head && r.views === views).map((r) => r[mode]);
      lines.push(`| ${head} | ${views} | ${mode === 'tta' ? 'TTA' : 'view 0'} | ${fmt(mean(rs.map((r) => r.accuracy)))} | ${fmt(mean(rs.map((r) => r.nll)))} | ${fmt(mean(rs.map((r) => r.balancedAccuracy)))} | ${fmt(mean(rs.map((r) => r.macroF1)))} |`);
    }
  }
}
lines.push('', '| head | comparison (paired by seed) | Δ accuracy (95% CI) | Δ NLL (95% CI) |', '| --- | --- | --- | --- |');
const pairs: [string, (r: (typeof viewRuns)[number]) => Scores, number, (r: (typeof viewRuns)[number]) => Scores, number][] = [
  ['views 4 − views 1, both view 0', (r) => r.plain, 4, (r) => r.plain, 1],
  ['views 4 + TTA − views 1, view 0', (r) => r.tta, 4, (r) => r.plain, 1],
  ['views 1 + TTA − views 1, view 0', (r) => r.tta, 1, (r) => r.plain, 1],
  ['views 4 + TTA − views 4, view 0', (r) => r.tta, 4, (r) => r.plain, 4],
];
for (const head of heads) {
  for (const [name, fa, va, fb, vb] of pairs) {
    const a = seeds.map((s) => fa(viewRuns.find((r) => r.head === head && r.views === va && r.seed === s)!));
    const b = seeds.map((s) => fb(viewRuns.find((r) => r.head === head && r.views === vb && r.seed === s)!));
    const da = paired(a.map((x, i) => x.accuracy - b[i]!.accuracy));
    const dn = paired(a.map((x, i) => x.nll - b[i]!.nll));
    lines.push(`| ${head} | ${name} | ${da.mean >= 0 ? '+' : ''}${fmt(da.mean)} ± ${fmt(da.half)} | ${dn.mean >= 0 ? '+' : ''}${fmt(dn.mean)} ± ${fmt(dn.half)} |`);
  }
}

// 3. Skewed data.
const cut = ['pullover', 'coat', 'shirt'].map((c) => train1.classes.indexOf(c));
if (cut.some((c) => c < 0)) throw new Error(`classes not found in ${train1.classes.join(', ')}`);
const seen = new Map<number, number>();
const keep = Int32Array.from(
  Array.from({ length: train1.size }, (_, i) => i).filter((i) => {
    const c = train1.labelIndex[i]!;
    if (!cut.includes(c)) return true;
    seen.set(c, (seen.get(c) ?? 0) + 1);
    return seen.get(c)! <= 8; // 10% of 80
  }),
);
const skewed = subsetFeatureSet(train1, keep);
log(`skewed sample: ${skewed.size} images; ${cut.map((c) => train1.classes[c]).join(', ')} cut to 8 each`);
const balanceRuns: { balance: BalanceMode; seed: number; scores: Scores; minorityRecall: number }[] = [];
for (const balance of ['none', 'sampler', 'weights'] as const) {
  for (const seed of seeds) {
    const r = await trainHead(skewed, null, { head: 'linear', seed, balance });
    const k = test.classes.length;
    const probs = predictRows(scorerOf(r.head, false), test, k);
    disposeHead(r.head);
    const s = scores(probs, test.labelIndex, k);
    // Recall of the three cut classes together.
    let hit = 0;
    let n = 0;
    for (let i = 0; i < test.size; i++) {
      if (!cut.includes(test.labelIndex[i]!)) continue;
      n++;
      const row = probs.subarray(i * k, (i + 1) * k);
      let best = 0;
      for (let c = 1; c < k; c++) if (row[c]! > row[best]!) best = c;
      if (best === test.labelIndex[i]) hit++;
    }
    balanceRuns.push({ balance, seed, scores: s, minorityRecall: hit / n });
    log(`balance ${balance} seed ${seed}: acc ${fmt(s.accuracy)}, balanced acc ${fmt(s.balancedAccuracy)}, macro-F1 ${fmt(s.macroF1)}, cut-class recall ${fmt(hit / n)}`);
  }
}
results.balance = balanceRuns;
lines.push('', '## skewed sample (pullover, coat, shirt cut to 8 of 80 training images; linear head; test set 50/class)', '', '| --balance | accuracy | balanced acc | macro-F1 | recall of the cut classes | Δ balanced acc vs none (95% CI) | Δ macro-F1 vs none (95% CI) |', '| --- | --- | --- | --- | --- | --- | --- |');
for (const balance of ['none', 'sampler', 'weights'] as const) {
  const rs = balanceRuns.filter((r) => r.balance === balance);
  const base = seeds.map((s) => balanceRuns.find((r) => r.balance === 'none' && r.seed === s)!);
  const dBa = paired(rs.map((r, i) => r.scores.balancedAccuracy - base[i]!.scores.balancedAccuracy));
  const dF1 = paired(rs.map((r, i) => r.scores.macroF1 - base[i]!.scores.macroF1));
  const ci = (d: { mean: number; half: number }) => (balance === 'none' ? '—' : `${d.mean >= 0 ? '+' : ''}${fmt(d.mean)} ± ${fmt(d.half)}`);
  lines.push(`| ${balance} | ${fmt(mean(rs.map((r) => r.scores.accuracy)))} | ${fmt(mean(rs.map((r) => r.scores.balancedAccuracy)))} | ${fmt(mean(rs.map((r) => r.scores.macroF1)))} | ${fmt(mean(rs.map((r) => r.minorityRecall)))} | ${ci(dBa)} | ${ci(dF1)} |`);
}
const c1 = cost['views 1']!;
const c4 = cost['views 4']!;
lines.push('', '## cost of --views 4 on the 800 training images (same run)', '', `precompute ${c4.seconds.toFixed(1)} s vs ${c1.seconds.toFixed(1)} s (${(c4.seconds / c1.seconds).toFixed(2)}×; after start-up ${(c4.runSeconds / c1.runSeconds).toFixed(2)}×), cache ${(c4.bytes / 2 ** 20).toFixed(1)} vs ${(c1.bytes / 2 ** 20).toFixed(1)} MiB (${(c4.bytes / c1.bytes).toFixed(2)}×), backbone images ${c4.backboneImages} vs ${c1.backboneImages}`);
const table = lines.join('\n');
writeFileSync(path.join(out, 'results.json'), JSON.stringify(results, null, 2));
writeFileSync(path.join(out, 'results.md'), `${table}\n`);
console.log(table);
await trainReader.close();
await testReader.close();
