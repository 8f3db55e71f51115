/**
 * `compare`: one head per setting (α × mix point × head) on the same cached features, each trained
 * from the same seed, and a table of validation metrics — the quick answer to "does mixup help on my
 * data, and at which α?". Features are cached, so each setting costs only head training.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { runTrain, type RunTrainArgs } from './run.js';
import type { CompareReport } from './report/types.js';
import { renderCompareReport } from './report/index.js';
import { headlineMetric } from './train/metrics.js';
import type { HeadType } from './train/heads.js';
import type { MixPoint } from './train/trainer.js';
import { writeFileAtomic } from './backbone/io.js';
import type { CompareRow } from './format.js';

export interface CompareArgs {
  /** Options shared by every run (cache, validation, epochs, …). */
  base: Omit<RunTrainArgs, 'out'> & { out?: string };
  alphas: number[];
  mixAts: MixPoint[];
  heads: HeadType[];
  out: string;
  log?: (line: string) => void;
}

export interface CompareResult {
  rows: CompareRow[];
  report: string;
  out: string;
}

export async function runCompare(args: CompareArgs): Promise<CompareResult> {
  if (!args.alphas.length || !args.mixAts.length || !args.heads.length) throw new Error('compare needs at least one α, one mix point and one head');
  await fs.mkdir(args.out, { recursive: true });
  const rows: CompareRow[] = [];
  const runs: CompareReport['runs'] = [];
  for (const head of args.heads) {
    for (const mixAt of args.mixAts) {
      for (const alpha of args.alphas) {
        // α = 0 is the same run at every mix point: train it once per head. The linear head's only
        // mix point is its input, so "hidden" would repeat "features" run for run.
        if (alpha === 0 && mixAt !== args.mixAts[0]) continue;
        if (head === 'linear' && mixAt === 'hidden' && args.mixAts.includes('features')) {
          if (alpha === args.alphas.find((a) => a > 0)) args.log?.('linear head: its only mix point is the features, so "hidden" is the "features" run');
          continue;
        }
        const name = alpha === 0 ? `${head}-no-mixup` : `${head}-${mixAt}-a${alpha}`;
        args.log?.(`training ${name} …`);
        const r = await runTrain({
          ...args.base,
          head,
          mixAt: alpha === 0 ? 'features' : mixAt,
          mixup: { ...args.base.mixup, alpha },
          out: path.join(args.out, name),
          combined: false,
          report: false,
          onEpoch: undefined,
        });
        const m = headlineMetric(r.metrics);
        const last = r.report.history[r.report.bestEpoch - 1] ?? r.report.history.at(-1)!;
        const row: CompareRow = {
          name,
          head,
          mixAt: alpha === 0 ? '-' : mixAt,
          alpha,
          metric: m.name,
          value: m.value,
          validLoss: r.metrics.loss,
          cleanTrainLoss: last.cleanLoss,
          bestEpoch: r.report.bestEpoch,
          seconds: r.report.seconds,
        };
        rows.push(row);
        runs.push({ name, seed: args.base.seed ?? 0, report: r.report });
        args.log?.(`  ${name}: ${m.name} ${(100 * m.value).toFixed(2)}% (best epoch ${row.bestEpoch}, ${row.seconds.toFixed(1)} s)`);
      }
    }
  }
  const report: CompareReport = { kind: 'compare', seeds: [args.base.seed ?? 0], rows, runs, options: runs[0]?.report.options ?? {} };
  await writeFileAtomic(path.join(args.out, 'report.json'), JSON.stringify(report, null, 2));
  const html = await renderCompareReport(report, args.out);
  return { rows, report: html, out: path.resolve(args.out) };
}
