/**
 * `compare`: one head per setting (α × mix point × head) on the same cached features, each trained
 * with the same N seeds, and a table of validation metrics (mean ± sd over the seeds) — the answer to
 * "does mixup help on my data, and at which α?". Features are cached, so each run costs only head
 * training.
 *
 * Judging (src/train/stats.ts): every setting is paired seed by seed with α = 0 of the same head
 * (same seed: same initial weights, data order and validation split), and the mean difference gets a
 * 95% t-interval. A setting is "better" or "worse" only when its interval excludes 0; the winner of a
 * head is its best "better" setting; otherwise the answer is "no clear difference". Ties are never
 * called wins.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { resolvedTrainOptions, runTrain, type RunTrainArgs } from './train.js';
import type { CompareReport, TrainReport } from '../report/types.js';
import { renderCompareReport } from '../report/index.js';
import { headlineMetric } from '../train/metrics.js';
import type { HeadType } from '../train/heads.js';
import type { MixPoint } from '../train/trainer.js';
import { mean, pairedInterval, sd } from '../train/stats.js';
import { writeFileAtomic } from '../base/fs.js';
import type { CompareRow, CompareVerdict } from '../report/format.js';
import { parseOptions } from '../base/options.js';
import { COMPARE_DEFAULTS, compareOptionsSchema } from './compare-options.js';

export interface CompareArgs {
  /** Options shared by every run (cache, validation, epochs, …); `seed` is the first seed. */
  base: Omit<RunTrainArgs, 'out'> & { out?: string };
  alphas: number[];
  mixAts: MixPoint[];
  heads: HeadType[];
  /** Seeds per setting: base.seed, base.seed + 1, …; default 3 (the fewest that give an interval with some power). */
  seeds?: number;
  out: string;
  log?: (line: string) => void;
}

export interface CompareResult {
  rows: CompareRow[];
  report: string;
  out: string;
}

interface Setting {
  name: string;
  head: HeadType;
  mixAt: MixPoint | '-';
  alpha: number;
}

/** The settings to train, in table order: α = 0 once per head (it is the same run at every mix point). */
export function compareSettings(heads: HeadType[], mixAts: MixPoint[], alphas: number[], log?: (line: string) => void): Setting[] {
  const out: Setting[] = [];
  for (const head of heads) {
    if (alphas.includes(0)) out.push({ name: `${head}-no-mixup`, head, mixAt: '-', alpha: 0 });
    for (const mixAt of mixAts) {
      // The linear head's only mix point is its input, so "hidden" would repeat "features" run for run.
      if (head === 'linear' && mixAt === 'hidden' && mixAts.includes('features')) {
        log?.('linear head: its only mix point is the features, so "hidden" is the "features" run');
        continue;
      }
      for (const alpha of alphas) if (alpha > 0) out.push({ name: `${head}-${mixAt}-a${alpha}`, head, mixAt, alpha });
    }
  }
  return out;
}

/** Rows from the per-seed results: mean ± sd, paired Δ against the head's α = 0, verdict, winner. */
export function judge(settings: Setting[], results: Map<string, TrainReport[]>, seeds: number[]): CompareRow[] {
  const rows = settings.map((s): CompareRow => {
    const reports = results.get(s.name)!;
    const values = reports.map((r) => headlineMetric(r.metrics).value);
    const bestRecords = reports.map((r) => r.history[r.bestEpoch - 1] ?? r.history.at(-1)!);
    return {
      name: s.name,
      head: s.head,
      mixAt: s.mixAt,
      alpha: s.alpha,
      metric: headlineMetric(reports[0].metrics).name,
      value: mean(values),
      sd: sd(values),
      values,
      seeds,
      verdict: s.alpha === 0 ? 'baseline' : 'one seed',
      winner: false,
      validLoss: mean(reports.map((r) => r.metrics.loss)),
      cleanTrainLoss: mean(bestRecords.map((e) => e.cleanLoss)),
      bestEpoch: mean(reports.map((r) => r.bestEpoch)),
      seconds: reports.reduce((a, r) => a + r.seconds, 0),
    };
  });
  for (const row of rows) {
    const base = rows.find((r) => r.head === row.head && r.alpha === 0);
    if (!base || row === base) continue;
    const d = pairedInterval(row.values, base.values);
    row.diff = { mean: d.mean, lo: d.lo, hi: d.hi };
    let verdict: CompareVerdict = 'no clear difference';
    if (!Number.isFinite(d.lo)) verdict = seeds.length < 2 ? 'one seed' : 'no clear difference';
    else if (d.lo > 0) verdict = 'better';
    else if (d.hi < 0) verdict = 'worse';
    row.verdict = verdict;
  }
  for (const head of new Set(rows.map((r) => r.head))) {
    const better = rows.filter((r) => r.head === head && r.verdict === 'better');
    const best = better.reduce<CompareRow | undefined>((a, r) => (!a || r.value > a.value ? r : a), undefined);
    if (best) best.winner = true;
  }
  return rows;
}

export async function runCompare(args: CompareArgs): Promise<CompareResult> {
  parseOptions(compareOptionsSchema, args);
  const nSeeds = args.seeds ?? COMPARE_DEFAULTS.seeds;
  if (!args.alphas.includes(0)) args.log?.('no α = 0 among the settings: nothing to compare against, so no differences or winner');
  const first = args.base.seed ?? 0;
  const seeds = Array.from({ length: nSeeds }, (_, i) => first + i);
  await fs.mkdir(args.out, { recursive: true });
  const settings = compareSettings(args.heads, args.mixAts, args.alphas, args.log);
  const results = new Map<string, TrainReport[]>();
  const runs: CompareReport['runs'] = [];
  let options: Record<string, unknown> = {};
  for (const s of settings) {
    const reports: TrainReport[] = [];
    for (const seed of seeds) {
      const name = nSeeds > 1 ? `${s.name}-s${seed}` : s.name;
      args.log?.(`training ${name} …`);
      const r = await runTrain({
        ...args.base,
        head: s.head,
        mixAt: s.mixAt === '-' ? 'features' : s.mixAt,
        mixup: { ...args.base.mixup, alpha: s.alpha },
        seed,
        out: path.join(args.out, name),
        combined: false,
        report: false,
        onEpoch: undefined,
      });
      const m = headlineMetric(r.metrics);
      args.log?.(`  ${name}: ${m.name} ${(100 * m.value).toFixed(2)}% (best epoch ${r.report.bestEpoch} of ${r.report.history.length}, lr ${r.result.lr.toExponential(1)}, ${r.report.seconds.toFixed(1)} s)`);
      reports.push(r.report);
      runs.push({ name: s.name, seed, report: r.report });
      if (!Object.keys(options).length) options = resolvedTrainOptions({ ...args.base, out: args.out }, r.result, r.meta.classes);
    }
    results.set(s.name, reports);
  }
  const rows = judge(settings, results, seeds);
  // What differs between runs is not a shared option.
  const { head: _h, mixAt: _m, seed: _s, lr: _lr, out: _o, ...shared } = options;
  const report: CompareReport = { kind: 'compare', seeds, rows, runs, options: { ...shared, heads: args.heads, mixAts: args.mixAts, alphas: args.alphas, seeds: nSeeds } };
  await writeFileAtomic(path.join(args.out, 'report.json'), JSON.stringify(report, null, 2));
  const html = await renderCompareReport(report, args.out);
  return { rows, report: html, out: path.resolve(args.out) };
}
