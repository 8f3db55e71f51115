/** Plain-text tables and one-line metric summaries for the CLI. */
import type { EpochRecord } from '../train/trainer.js';
import type { Metrics } from '../train/metrics.js';
import type { CacheSummary } from '../cache/inspect.js';
import type { OnnxInspection } from '../engine/onnx-file.js';

const f = (v: number | undefined, d = 4) => (v == null || Number.isNaN(v) ? '-' : v.toFixed(d));
const pct = (v: number | undefined) => (v == null || Number.isNaN(v) ? '-' : `${(100 * v).toFixed(2)}%`);

export function formatMetrics(m: Metrics): string {
  return m.kind === 'single'
    ? `accuracy ${pct(m.accuracy)}, top-5 ${pct(m.top5)}, loss ${f(m.loss)}`
    : `mAP ${pct(m.mAP)}, micro-F1 ${pct(m.microF1)}, macro-F1 ${pct(m.macroF1)}, loss ${f(m.loss)}`;
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

export type CompareVerdict = 'baseline' | 'better' | 'worse' | 'no clear difference' | 'one seed';

/** One setting of `compare`, over its seeds. */
export interface CompareRow {
  name: string;
  head: string;
  mixAt: string;
  alpha: number;
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

const pp = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(2)}`;

/** The Δ column: "+1.20 pp [+0.30, +2.10]". */
export function formatDiff(d: CompareRow['diff']): string {
  if (!d) return '-';
  return Number.isFinite(d.lo) ? `${pp(d.mean)} pp [${pp(d.lo)}, ${pp(d.hi)}]` : `${pp(d.mean)} pp`;
}

/** One line per head: the winner, or "no clear difference". */
export function compareVerdicts(rows: CompareRow[]): string[] {
  const heads = [...new Set(rows.map((r) => r.head))];
  return heads.map((head) => {
    const mine = rows.filter((r) => r.head === head);
    const winner = mine.find((r) => r.winner);
    if (winner) return `${head}: ${winner.name} beats α = 0 (${formatDiff(winner.diff)} ${winner.metric})`;
    if (mine.some((r) => r.verdict === 'one seed')) return `${head}: one seed per setting: no interval; rerun with --seeds 3 or more to judge`;
    const worse = mine.filter((r) => r.verdict === 'worse').map((r) => r.name);
    return `${head}: no clear difference from α = 0${worse.length ? ` (clearly worse: ${worse.join(', ')})` : ''}`;
  });
}

export function formatCompareTable(rows: CompareRow[]): string {
  const seeds = rows[0]?.seeds.length ?? 0;
  const body = table([
    ['setting', 'head', 'mix at', 'α', 'metric', `mean ± sd (${seeds} seed${seeds === 1 ? '' : 's'})`, 'Δ vs α = 0 [95% CI]', 'verdict', 'valid loss', 'best epoch', 'seconds'],
    ...rows.map((r) => [
      r.name,
      r.head,
      r.mixAt,
      String(r.alpha),
      r.metric,
      Number.isFinite(r.sd) ? `${pct(r.value)} ± ${(100 * r.sd).toFixed(2)}` : pct(r.value),
      formatDiff(r.diff),
      r.winner ? 'WINNER' : r.verdict,
      f(r.validLoss),
      r.bestEpoch.toFixed(1),
      r.seconds.toFixed(1),
    ]),
  ]);
  const note =
    'Δ: the paired difference against α = 0 of the same head, trained with the same seeds (pp = percentage points), ' +
    'with its 95% t-interval; "better"/"worse" when the interval excludes 0, and the winner is the best "better" setting of its head.';
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
