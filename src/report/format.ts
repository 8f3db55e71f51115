/** Plain-text tables and one-line metric summaries for the CLI. */
import type { EpochRecord } from '../train/trainer.js';
import type { Metrics } from '../train/metrics.js';
import type { CacheSummary } from '../cache/inspect.js';
import type { OnnxInspection } from '../engine/onnx-file.js';

const f = (v: number | undefined, d = 4) => (v == null || Number.isNaN(v) ? '-' : v.toFixed(d));
const pct = (v: number | undefined) => (v == null || Number.isNaN(v) ? '-' : `${(100 * v).toFixed(2)}%`);

export function formatMetrics(m: Metrics): string {
  // Older report.json files lack the calibration figures: they are left out rather than shown as "-".
  const cal = m.ece == null ? '' : `, ECE ${f(m.ece)}, Brier ${f(m.brier)}`;
  return m.kind === 'single'
    ? `accuracy ${pct(m.accuracy)}${m.balancedAccuracy == null ? '' : `, balanced accuracy ${pct(m.balancedAccuracy)}, macro-F1 ${pct(m.macroF1)}`}, top-5 ${pct(m.top5)}, loss (NLL) ${f(m.loss)}${cal}`
    : `mAP ${pct(m.mAP)}, micro-F1 ${pct(m.microF1)}${m.crossFitMicroF1 == null ? '' : ` (cross-fitted ${pct(m.crossFitMicroF1)})`}, macro-F1 ${pct(m.macroF1)}, loss (NLL) ${f(m.loss)}${cal}`;
}

/** Rows of fixed-width columns, the first row a header. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => cell.padStart(widths[c])).join('  ')).join('\n');
}

export function formatTrainTable(records: EpochRecord[], withHeader = true): string {
  const rows = records.map((e) => [
    String(e.epoch),
    e.lr.toExponential(2),
    f(e.mixedLoss),
    f(e.cleanLoss),
    f(e.validLoss),
    e.metric ? `${e.metric.name} ${pct(e.metric.value)}` : '-',
    `${e.samplesPerSecond.toFixed(0)}/s`,
  ]);
  const header = ['epoch', 'lr', 'mixed loss', 'clean loss', 'valid loss', 'metric', 'speed'];
  const widths = [5, 9, 10, 10, 10, 18, 8];
  const fmt = (r: string[]) => r.map((c, i) => c.padStart(widths[i])).join('  ');
  return [...(withHeader ? [fmt(header)] : []), ...rows.map(fmt)].join('\n');
}

export type CompareVerdict = 'baseline' | 'better' | 'worse' | 'no clear difference' | 'one seed' | 'no baseline';

/** One metric of one setting over its seeds, and its verdict against the setting's baseline. */
export interface MetricVerdict {
  value: number;
  sd: number;
  values: number[];
  higherIsBetter: boolean;
  /** Paired difference against the baseline under the same seeds, with its (uncorrected) 95% t-interval. */
  diff?: { mean: number; lo: number; hi: number };
  /** Two-sided p of the paired test ('t', or 'sign' when the differences have sd 0), and after Holm. */
  p?: number;
  pAdjusted?: number;
  test?: 't' | 'sign' | 'none';
  verdict: CompareVerdict;
  /** The best setting of its family (metric × baseline) that is "better" after correction. */
  winner: boolean;
}

/** A floor beside the heads (kNN, logistic regression): values only, no verdict. */
export interface FloorRow {
  name: 'knn' | 'logistic';
  description: string;
  metrics: Record<string, { value: number; sd: number; values: number[] }>;
  seconds: number;
}

/** One setting of `compare`, over its seeds. */
export interface CompareRow {
  name: string;
  head: string;
  mixAt: string;
  alpha: number;
  /** The --grid values of this setting (empty without a grid). */
  grid?: Record<string, number | string>;
  /** The setting it is judged against (null for a baseline, or when no α = 0 was trained). */
  baseline?: string | null;
  /** Per judged metric (accuracy or mAP, NLL, ECE): values and verdict. */
  metrics: Record<string, MetricVerdict>;
  /** Mean over seeds of the validation NLL after temperature scaling (cross-fitted). */
  temperedNll?: number;
  /** The headline metric's name; value … winner below repeat metrics[metric]. */
  metric: string;
  /** Mean of the metric over the seeds. */
  value: number;
  /** Sample standard deviation over the seeds (NaN with one seed). */
  sd: number;
  /** The metric per seed, in the order of `seeds`. */
  values: number[];
  seeds: number[];
  /** Paired difference against α = 0 of the same head under the same seeds, with its 95% t-interval. */
  diff?: { mean: number; lo: number; hi: number };
  verdict: CompareVerdict;
  /** The best setting of its head whose interval lies above 0. */
  winner: boolean;
  validLoss: number;
  cleanTrainLoss: number;
  /** Mean best epoch over the seeds. */
  bestEpoch: number;
  /** Training time, all seeds together. */
  seconds: number;
}

const pp = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(100 * v).toFixed(2)}`;
const signed = (v: number, d = 4) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(d)}`;

/** Whether a metric is a fraction shown in percent (accuracy, mAP, F1) rather than a loss or an error. */
export const isPercentMetric = (name: string) => !['NLL', 'ECE', 'Brier', 'loss'].includes(name);

/** The Δ column: "+1.20 pp [+0.30, +2.10]" for percentages, "−0.0812 [−0.1200, −0.0400]" for NLL and ECE. */
export function formatDiff(d: CompareRow['diff'], metric = 'accuracy'): string {
  if (!d) return '-';
  const fmt = isPercentMetric(metric) ? pp : (v: number) => signed(v);
  const unit = isPercentMetric(metric) ? ' pp' : '';
  return Number.isFinite(d.lo) ? `${fmt(d.mean)}${unit} [${fmt(d.lo)}, ${fmt(d.hi)}]` : `${fmt(d.mean)}${unit}`;
}

/** A metric's value: "81.20%" or "0.5123". */
export function formatValue(metric: string, v: number, sdv?: number): string {
  if (isPercentMetric(metric)) return sdv != null && Number.isFinite(sdv) ? `${pct(v)} ± ${(100 * sdv).toFixed(2)}` : pct(v);
  return sdv != null && Number.isFinite(sdv) ? `${f(v)} ± ${f(sdv)}` : f(v);
}

/** What "better" means in plain words, per metric. */
const BETTER_WORDS: Record<string, string> = { NLL: 'better calibrated', ECE: 'better calibrated' };

/** The families of a comparison: each baseline (head × grid point) with the settings judged against it. */
export function compareFamilies(rows: CompareRow[]): { label: string; baseline: CompareRow | undefined; members: CompareRow[] }[] {
  const keys = [...new Set(rows.filter((r) => r.verdict !== 'baseline').map((r) => r.baseline ?? `(none)${r.head}`))];
  return keys.map((key) => {
    const members = rows.filter((r) => r.verdict !== 'baseline' && (r.baseline ?? `(none)${r.head}`) === key);
    const baseline = rows.find((r) => r.name === key);
    const grid = members[0].grid && Object.keys(members[0].grid).length ? ` (${Object.entries(members[0].grid).map(([k, v]) => `${k} ${v}`).join(', ')})` : '';
    return { label: `${members[0].head}${grid}`, baseline, members };
  });
}

/**
 * One line per family and metric, in plain words:
 * "mlp: accuracy: no clear difference; NLL: mlp-hidden-a0.4 −0.0812 [−0.1200, −0.0400], better calibrated; ECE: …".
 */
export function compareVerdicts(rows: CompareRow[]): string[] {
  return compareFamilies(rows).map(({ label, baseline, members }) => {
    if (!baseline) return `${label}: no baseline (α = 0 is not among the settings): nothing to judge against`;
    if (members.some((r) => r.verdict === 'one seed')) return `${label}: one seed per setting: no interval; rerun with --seeds 3 or more to judge`;
    const parts = Object.keys(members[0].metrics).map((metric) => {
      const winner = members.find((r) => r.metrics[metric].winner);
      if (winner) {
        const m = winner.metrics[metric];
        const also = members.filter((r) => r !== winner && r.metrics[metric].verdict === 'better').map((r) => r.name);
        return `${metric}: ${winner.name} ${formatDiff(m.diff, metric)}, ${BETTER_WORDS[metric] ?? 'better'}${also.length ? ` (also better: ${also.join(', ')})` : ''}`;
      }
      const worse = members.filter((r) => r.metrics[metric].verdict === 'worse').map((r) => r.name);
      return `${metric}: no clear difference${worse.length ? ` (clearly worse: ${worse.join(', ')})` : ''}`;
    });
    return `${label} vs ${baseline.name}: ${parts.join('; ')}`;
  });
}

/** The verdict cell of one metric: WINNER, better, worse, … ("(sign)" when the sign test decided). */
function verdictCell(m: MetricVerdict): string {
  return m.winner ? 'WINNER' : m.verdict;
}

export function formatCompareTable(rows: CompareRow[], floors: readonly FloorRow[] = []): string {
  const seeds = rows[0]?.seeds.length ?? 0;
  const metrics = Object.keys(rows[0]?.metrics ?? {});
  const gridKeys = [...new Set(rows.flatMap((r) => Object.keys(r.grid ?? {})))];
  const header = ['setting', 'head', 'mix at', 'α', ...gridKeys.map((k) => k.split('.').at(-1)!)];
  for (const m of metrics) header.push(`${m} (${seeds} seed${seeds === 1 ? '' : 's'})`, `Δ ${m} [95% CI]`, `${m} verdict`);
  header.push('NLL after T', 'best epoch', 'seconds');
  const body = table([
    header,
    ...rows.map((r) => [
      r.name,
      r.head,
      r.mixAt,
      String(r.alpha),
      ...gridKeys.map((k) => String(r.grid?.[k] ?? '-')),
      ...metrics.flatMap((m) => [formatValue(m, r.metrics[m].value, r.metrics[m].sd), formatDiff(r.metrics[m].diff, m), verdictCell(r.metrics[m])]),
      f(r.temperedNll),
      r.bestEpoch.toFixed(1),
      r.seconds.toFixed(1),
    ]),
    ...floors.map((fl) => [
      `floor: ${fl.name}`,
      '-',
      '-',
      '-',
      ...gridKeys.map(() => '-'),
      ...metrics.flatMap((m) => [fl.metrics[m] ? formatValue(m, fl.metrics[m].value) : '-', '-', 'floor']),
      '-',
      '-',
      fl.seconds.toFixed(1),
    ]),
  ]);
  const note =
    'Δ: the paired difference against the baseline (the same head and grid values with every kind of mixing off), trained with the same seeds ' +
    '(pp = percentage points), with its 95% t-interval. A verdict needs p ≤ 0.05 after Holm\'s correction over the settings sharing that baseline ' +
    '(one family per metric); when the differences have no spread the sign test decides (3 seeds can never win that way). ' +
    'Lower is better for NLL and ECE. "NLL after T": validation NLL after temperature scaling, cross-fitted.';
  return [body, '', ...compareVerdicts(rows), note].join('\n');
}

export function formatInspect(s: CacheSummary, skipped: { source: string; reason: string }[]): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const lines = [
    `cache      ${s.dir}`,
    `entries    ${s.count} (${s.multiLabel ? 'multi-label' : 'single-label'}${s.unlabeled ? `, ${s.unlabeled} unlabeled` : ''})`,
    `views      ${s.views} per sample${s.views > 1 ? ` (view 0 plain, ${s.flip ? 'view 1 mirrored, then random resized crops' : 'then random resized crops, no mirroring'})` : ''}`,
    `features   ${s.featureShape.join('×')} ${s.dtype}${s.quantization ? ` (scale ${s.quantization.scale.toPrecision(6)}, zero point ${s.quantization.zeroPoint})` : ''}, ${s.bytesPerEntry} bytes per entry, ${mib(s.diskBytes)} on disk`,
    `backbone   ${s.backbone} cut at ${s.cut}, ${s.inputSize} px, weights ${s.weightsHash.slice(0, 16)}…`,
  ];
  if (s.quantizationStats) lines.push(`uint8      largest quantization error ${s.quantizationStats.maxError.toExponential(3)}, ${s.quantizationStats.clipped} of ${s.quantizationStats.values} values clipped`);
  lines.push('classes', ...s.classes.map((c) => `  ${c.name.padEnd(24)} ${c.count}`));
  lines.push(`skipped    ${skipped.length}`, ...skipped.map((x) => `  ${x.source}: ${x.reason}`));
  return lines.join('\n');
}

/** `mixhead backbones --inspect`: the input, then one line per cut point (node, op, H×W×C). */
export function formatOnnxInspection(r: OnnxInspection): string {
  const lines = [
    `${r.file} (sha256 ${r.sha256.slice(0, 12)}…)`,
    `input ${r.input.name} [${r.input.dims.join(', ')}] ${r.input.layout}, inspected at ${r.size}×${r.size}; outputs: ${r.outputs.join(', ')}`,
    `${r.cutPoints.length} cut points (nodes with 4-D outputs; --node takes the node or the tensor name; maps cached as H×W×C):`,
  ];
  const width = Math.min(60, Math.max(4, ...r.cutPoints.map((c) => c.node.length)));
  for (const c of r.cutPoints) lines.push(`  ${c.node.padEnd(width)} ${c.op.padEnd(18)} ${c.featureShape.join('×').padEnd(12)} ${c.tensor}`);
  return lines.join('\n');
}
