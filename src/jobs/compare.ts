/**
 * `compare`: one head per setting (head × grid point × mix point × α) on the same cached features,
 * each trained with the same N seeds, and a table of validation metrics (mean ± sd over the seeds) —
 * the answer to "does mixup help on my data, at which α, and with which other settings?". Features
 * are cached, so each run costs only head training.
 *
 * Judging (docs/architecture.md, "Judging"; src/train/stats.ts): every setting is paired seed by
 * seed with its baseline — the same head and grid values with every kind of mixing off (mixup and
 * CutMix) — on accuracy (or mAP), NLL and ECE. Per metric, the settings sharing a baseline are one
 * family: paired t-tests (the sign test when the differences have no spread), Holm's adjustment,
 * and "better"/"worse" only where the adjusted p ≤ 0.05. A family's winner is its best surviving
 * "better" setting. Without α = 0 there is no baseline, and the rows say so. Beside the heads, two
 * floors on pooled features (kNN, logistic regression) show what a head adds.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { assertSameFeatures, resolvedTrainOptions, runTrain, stratifiedSplit, type RunTrainArgs } from './train.js';
import type { CompareReport, TrainReport } from '../report/types.js';
import { renderCompareReport } from '../report/index.js';
import { headlineMetric, metricsOf, type Metrics } from '../train/metrics.js';
import type { HeadType } from '../train/heads.js';
import type { MixPoint } from '../train/trainer.js';
import { judgeFamily, mean, sd } from '../train/stats.js';
import { writeFileAtomic } from '../base/fs.js';
import type { CompareRow, FloorRow } from '../report/format.js';
import { parseOptions } from '../base/options.js';
import { UsageError } from '../base/errors.js';
import { COMPARE_DEFAULTS, compareOptionsSchema } from './compare-options.js';
import { runTrainOptionsSchema } from './train-options.js';
import { floorProbs } from '../train/floors.js';
import { CacheReader } from '../cache/reader.js';
import { cacheFeatureSet, subsetFeatureSet, type FeatureSet } from '../train/features.js';

export interface CompareArgs {
  /** Options shared by every run (cache, validation, epochs, …); `seed` is the first seed. */
  base: Omit<RunTrainArgs, 'out'> & { out?: string };
  alphas: number[];
  mixAts: MixPoint[];
  heads: HeadType[];
  /** Training options to cross with the settings: each axis a dotted RunTrainArgs path and its values. */
  grid?: GridAxis[];
  /** Seeds per setting: base.seed, base.seed + 1, …; default 3 (the fewest that give an interval with some power). */
  seeds?: number;
  /** Also train the two floors on pooled features (kNN, logistic regression); default true. */
  floors?: boolean;
  out: string;
  log?: (line: string) => void;
}

export interface CompareResult {
  rows: CompareRow[];
  /** kNN and logistic regression on pooled features (empty with `floors: false` or no validation set). */
  floors: FloorRow[];
  report: string;
  out: string;
}

/** One axis of `--grid`: a RunTrainArgs path (`dropout`, `weightDecay`, `mixup.labelSmoothing`, …) and its values. */
export interface GridAxis {
  key: string;
  values: (number | string)[];
}

/** Paths a grid may not set: they are compare's own axes, or where the data and runs live. */
export const GRID_FORBIDDEN = ['mixup.alpha', 'mixup.cutmixAlpha', 'head', 'mixAt', 'seed', 'out', 'cache', 'valid', 'validSplit', 'resume', 'overwrite'];

export interface Setting {
  name: string;
  head: HeadType;
  mixAt: MixPoint | '-';
  alpha: number;
  /** The grid's values for this setting (empty without --grid). */
  grid: Record<string, number | string>;
  /** The name of the setting it is judged against (null: it is a baseline, or none was trained). */
  baseline: string | null;
}

/** The grid's points: the cartesian product of its axes, the first axis slowest. */
export function gridPoints(grid: readonly GridAxis[] = []): Record<string, number | string>[] {
  let points: Record<string, number | string>[] = [{}];
  for (const axis of grid) points = points.flatMap((p) => axis.values.map((v) => ({ ...p, [axis.key]: v })));
  return points;
}

/** `dropout0.3-weightDecay0.0001`: the last segment of each path and its value. */
export function gridLabel(point: Record<string, number | string>): string {
  return Object.entries(point)
    .map(([k, v]) => `${k.split('.').at(-1)}${v}`)
    .join('-');
}

/** Sets a dotted path in a copy of a plain object. */
export function withPath<T extends object>(obj: T, key: string, value: unknown): T {
  const [head, ...rest] = key.split('.');
  const o = obj as Record<string, unknown>;
  return { ...o, [head]: rest.length ? withPath((o[head] as object | undefined) ?? {}, rest.join('.'), value) : value } as T;
}

/**
 * The settings to train, in table order. Per head and grid point: the baseline first (every kind
 * of mixing off: α = 0 and CutMix α = 0 — one run, the same at every mix point), then each mix
 * point × α > 0, each judged against the baseline of its own head and grid point.
 */
export function compareSettings(heads: HeadType[], mixAts: MixPoint[], alphas: number[], log?: (line: string) => void, grid: readonly GridAxis[] = []): Setting[] {
  const out: Setting[] = [];
  let saidLinear = false;
  for (const head of heads) {
    for (const point of gridPoints(grid)) {
      const prefix = [head, gridLabel(point)].filter(Boolean).join('-');
      const baseline = alphas.includes(0) ? `${prefix}-no-mixing` : null;
      if (baseline) out.push({ name: baseline, head, mixAt: '-', alpha: 0, grid: point, baseline: null });
      for (const mixAt of mixAts) {
        // The linear head's only mix point is its input, so "hidden" would repeat "features" run for run.
        if (head === 'linear' && mixAt === 'hidden' && mixAts.includes('features')) {
          if (!saidLinear) log?.('linear head: its only mix point is the features, so "hidden" is the "features" run');
          saidLinear = true;
          continue;
        }
        for (const alpha of alphas) if (alpha > 0) out.push({ name: `${prefix}-${mixAt}-a${alpha}`, head, mixAt, alpha, grid: point, baseline });
      }
    }
  }
  return out;
}

/** The metrics compare judges: the headline (accuracy or mAP, higher is better), NLL and ECE (lower is better). */
export function judgedMetrics(m: Metrics): { name: string; value: number; higherIsBetter: boolean }[] {
  const h = headlineMetric(m);
  return [
    { name: h.name, value: h.value, higherIsBetter: true },
    { name: 'NLL', value: m.nll ?? m.loss, higherIsBetter: false },
    { name: 'ECE', value: m.ece ?? NaN, higherIsBetter: false },
  ];
}

/**
 * Rows from the per-seed results: mean ± sd per metric, and per metric a verdict against the
 * setting's baseline (docs/architecture.md, "Judging"): the paired test under the same seeds, Holm's
 * adjustment over the family (one metric, all settings sharing one baseline), and per family the
 * winner: the best surviving "better" setting. The row's top-level value, diff, verdict and winner
 * are the headline metric's.
 */
export function judge(settings: Setting[], results: Map<string, TrainReport[]>, seeds: number[]): CompareRow[] {
  const rows = settings.map((s): CompareRow => {
    const reports = results.get(s.name)!;
    const bestRecords = reports.map((r) => r.history[r.bestEpoch - 1] ?? r.history.at(-1)!);
    const perSeed = reports.map((r) => judgedMetrics(r.metrics));
    const metrics: CompareRow['metrics'] = {};
    perSeed[0].forEach((m, j) => {
      const values = perSeed.map((p) => p[j].value);
      metrics[m.name] = { value: mean(values), sd: sd(values), values, higherIsBetter: m.higherIsBetter, verdict: s.baseline == null && s.alpha === 0 ? 'baseline' : 'no baseline', winner: false };
    });
    const head = perSeed[0][0];
    const temps = reports.map((r) => r.temperature?.after.nll).filter((v): v is number => v != null);
    return {
      name: s.name,
      head: s.head,
      mixAt: s.mixAt,
      alpha: s.alpha,
      grid: s.grid,
      baseline: s.baseline,
      metric: head.name,
      value: metrics[head.name].value,
      sd: metrics[head.name].sd,
      values: metrics[head.name].values,
      seeds,
      verdict: metrics[head.name].verdict,
      winner: false,
      metrics,
      ...(temps.length === reports.length ? { temperedNll: mean(temps) } : {}),
      validLoss: mean(reports.map((r) => r.metrics.loss)),
      cleanTrainLoss: mean(bestRecords.map((e) => e.cleanLoss)),
      bestEpoch: mean(reports.map((r) => r.bestEpoch)),
      seconds: reports.reduce((a, r) => a + r.seconds, 0),
    };
  });
  const families = new Map<string, CompareRow[]>();
  for (const row of rows) {
    if (row.verdict === 'baseline') continue;
    const key = row.baseline ?? '(none)';
    families.set(key, [...(families.get(key) ?? []), row]);
  }
  for (const [baseName, members] of families) {
    const base = rows.find((r) => r.name === baseName);
    for (const metric of Object.keys(members[0].metrics)) {
      const higher = members[0].metrics[metric].higherIsBetter;
      const judged = judgeFamily(
        members.map((r) => r.metrics[metric].values),
        base?.metrics[metric].values,
        higher,
      );
      members.forEach((r, i) => {
        const j = judged[i];
        Object.assign(r.metrics[metric], {
          verdict: j.verdict,
          ...(Number.isFinite(j.mean) ? { diff: { mean: j.mean, lo: j.lo, hi: j.hi }, p: j.p, pAdjusted: j.pAdjusted, test: j.test } : {}),
        });
      });
      const better = members.filter((r) => r.metrics[metric].verdict === 'better');
      const best = better.reduce<CompareRow | undefined>((a, r) => (!a || (higher ? r.metrics[metric].value > a.metrics[metric].value : r.metrics[metric].value < a.metrics[metric].value) ? r : a), undefined);
      if (best) best.metrics[metric].winner = true;
    }
  }
  for (const row of rows) {
    const m = row.metrics[row.metric];
    row.verdict = m.verdict;
    row.winner = m.winner;
    if (m.diff) row.diff = m.diff;
  }
  return rows;
}

export async function runCompare(args: CompareArgs): Promise<CompareResult> {
  parseOptions(compareOptionsSchema, args);
  const nSeeds = args.seeds ?? COMPARE_DEFAULTS.seeds;
  if (!args.alphas.includes(0)) args.log?.('no α = 0 among the settings: no baseline to compare against, so no differences or winner');
  const grid = args.grid ?? [];
  for (const axis of grid) {
    if (GRID_FORBIDDEN.includes(axis.key)) throw new UsageError(`grid ${axis.key}: compare sets this itself (use --alphas, --mix-ats, --heads, --seeds); grid keys are other training options such as dropout, weightDecay, epochs, lr, hidden, mixup.labelSmoothing`);
  }
  const first = args.base.seed ?? 0;
  const seeds = Array.from({ length: nSeeds }, (_, i) => first + i);
  const settings = compareSettings(args.heads, args.mixAts, args.alphas, args.log, grid);
  const lrFindMemo = new Map<string, unknown>();
  // Each run's notices (its lr, "still improving", …), indented under its name; the engine once.
  let engineSaid = false;
  const runLog =
    args.log &&
    ((line: string) => {
      const engineLine = line.startsWith('train engine:');
      if (engineLine && engineSaid) return;
      engineSaid ||= engineLine;
      args.log!(`  ${line}`);
    });
  // Every run's options, checked before any training starts (a bad grid value fails now, in one line).
  const runArgs = (s: Setting, seed: number): RunTrainArgs => {
    let a: RunTrainArgs = {
      ...args.base,
      head: s.head,
      mixAt: s.mixAt === '-' ? 'features' : s.mixAt,
      // The baseline turns every kind of mixing off: mixup and CutMix (α = 0 alone would leave CutMix on).
      mixup: { ...args.base.mixup, alpha: s.alpha, ...(s.mixAt === '-' ? { cutmixAlpha: 0 } : {}) },
      seed,
      out: path.join(args.out, nSeeds > 1 ? `${s.name}-s${seed}` : s.name),
      combined: false,
      report: false,
      // A compare reruns a setting whole (it never resumes one), so its runs skip the per-epoch checkpoints.
      checkpoints: false,
      onEpoch: undefined,
      log: runLog,
      // Settings that differ only in α, mix point or a grid value the finder does not read share its result.
      lrFindMemo,
    };
    for (const [key, value] of Object.entries(s.grid)) a = withPath(a, key, value);
    return a;
  };
  for (const s of settings) {
    const a = runArgs(s, first);
    try {
      parseOptions(runTrainOptionsSchema, a);
    } catch (err) {
      throw new UsageError(`setting ${s.name}: ${(err as Error).message}`);
    }
  }
  await fs.mkdir(args.out, { recursive: true });
  const results = new Map<string, TrainReport[]>();
  const runs: CompareReport['runs'] = [];
  let options: Record<string, unknown> = {};
  for (const s of settings) {
    const reports: TrainReport[] = [];
    for (const seed of seeds) {
      const a = runArgs(s, seed);
      const name = path.basename(a.out);
      args.log?.(`training ${name} …`);
      const r = await runTrain(a);
      const m = headlineMetric(r.metrics);
      args.log?.(`  ${name}: ${m.name} ${(100 * m.value).toFixed(2)}%, NLL ${r.metrics.nll.toFixed(4)}, ECE ${r.metrics.ece.toFixed(4)} (best epoch ${r.report.bestEpoch} of ${r.report.history.length}, lr ${r.result.lr.toExponential(1)}, ${r.report.seconds.toFixed(1)} s)`);
      reports.push(r.report);
      runs.push({ name: s.name, seed, report: r.report });
      if (!Object.keys(options).length) options = resolvedTrainOptions({ ...args.base, out: args.out }, r.result, r.meta.classes);
    }
    results.set(s.name, reports);
  }
  const rows = judge(settings, results, seeds);
  const floors = args.floors === false ? [] : await floorRows(args, seeds);
  // What differs between runs is not a shared option.
  const { head: _h, mixAt: _m, seed: _s, lr: _lr, out: _o, ...shared } = options;
  const report: CompareReport = {
    kind: 'compare',
    seeds,
    rows,
    floors,
    runs,
    options: { ...shared, heads: args.heads, mixAts: args.mixAts, alphas: args.alphas, seeds: nSeeds, grid },
  };
  await writeFileAtomic(path.join(args.out, 'report.json'), JSON.stringify(report, null, 2));
  const html = await renderCompareReport(report, args.out);
  return { rows, floors, report: html, out: path.resolve(args.out) };
}

/**
 * The floors (kNN, logistic regression; src/train/floors.ts) on the same validation data as the
 * heads: with --valid-split the split follows the seed, so they are fitted once per seed; with a
 * validation cache they are deterministic and fitted once.
 */
export async function floorRows(args: CompareArgs, seeds: number[]): Promise<FloorRow[]> {
  const t0 = performance.now();
  const reader = CacheReader.open(args.base.cache);
  let validReader: CacheReader | undefined;
  try {
    const all = cacheFeatureSet(reader);
    const h = reader.header;
    let fixedValid: FeatureSet | null = null;
    if (args.base.valid) {
      validReader = CacheReader.open(args.base.valid);
      assertSameFeatures(h, args.base.cache, validReader.header, args.base.valid);
      fixedValid = cacheFeatureSet(validReader);
    } else if (!args.base.validSplit) {
      args.log?.('floors skipped: no validation set (give --valid or --valid-split)');
      return [];
    }
    const perSeed: { knn: Metrics; logistic: Metrics }[] = [];
    for (const seed of fixedValid ? [seeds[0]] : seeds) {
      let train: FeatureSet = all;
      let valid = fixedValid;
      if (!valid) {
        const split = stratifiedSplit(all.labelIndex, args.base.validSplit!, seed);
        train = subsetFeatureSet(all, split.train);
        valid = subsetFeatureSet(all, split.valid);
      }
      const p = floorProbs(train, valid);
      perSeed.push({ knn: metricsOf(valid, p.knn), logistic: metricsOf(valid, p.logistic) });
    }
    const seconds = (performance.now() - t0) / 1000;
    const row = (name: 'knn' | 'logistic', description: string): FloorRow => {
      const metrics: FloorRow['metrics'] = {};
      judgedMetrics(perSeed[0][name]).forEach((m, j) => {
        const values = perSeed.map((x) => judgedMetrics(x[name])[j].value);
        metrics[m.name] = { value: mean(values), sd: sd(values), values };
      });
      return { name, description, metrics, seconds };
    };
    return [
      row('knn', 'k-nearest neighbours (k = 10, cosine) on pooled features; probabilities are vote fractions'),
      row('logistic', 'L2 logistic regression (λ = 1/N, as scikit-learn C = 1) on standardised pooled features'),
    ];
  } finally {
    await reader.close();
    await validReader?.close();
  }
}
