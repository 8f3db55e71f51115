/** Plain-text tables and one-line metric summaries for the CLI. */
import type { EpochRecord } from './train/trainer.js';
import type { Metrics } from './train/metrics.js';
import type { CacheSummary } from './cache/inspect.js';

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

export interface CompareRow {
  name: string;
  head: string;
  mixAt: string;
  alpha: number;
  metric: string;
  value: number;
  validLoss: number;
  cleanTrainLoss: number;
  bestEpoch: number;
  seconds: number;
}

export function formatCompareTable(rows: CompareRow[]): string {
  const best = Math.max(...rows.map((r) => r.value));
  return table([
    ['setting', 'head', 'mix at', 'α', 'metric', 'value', 'valid loss', 'clean train loss', 'best epoch', 'seconds'],
    ...rows.map((r) => [
      r.name + (r.value === best ? ' *' : ''),
      r.head,
      r.mixAt,
      String(r.alpha),
      r.metric,
      pct(r.value),
      f(r.validLoss),
      f(r.cleanTrainLoss),
      String(r.bestEpoch),
      r.seconds.toFixed(1),
    ]),
  ]);
}

export function formatInspect(s: CacheSummary, skipped: { source: string; reason: string }[]): string {
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const lines = [
    `cache      ${s.dir}`,
    `entries    ${s.count} (${s.multiLabel ? 'multi-label' : 'single-label'}${s.unlabeled ? `, ${s.unlabeled} unlabeled` : ''})`,
    `features   ${s.featureShape.join('×')} ${s.dtype}${s.quantization ? ` (scale ${s.quantization.scale.toPrecision(6)}, zero point ${s.quantization.zeroPoint})` : ''}, ${s.bytesPerEntry} bytes per entry, ${mib(s.diskBytes)} on disk`,
    `backbone   ${s.backbone} cut at ${s.cut}, ${s.inputSize} px, weights ${s.weightsHash.slice(0, 16)}…`,
  ];
  if (s.quantizationStats) lines.push(`uint8      largest quantization error ${s.quantizationStats.maxError.toExponential(3)}, ${s.quantizationStats.clipped} of ${s.quantizationStats.values} values clipped`);
  lines.push('classes', ...s.classes.map((c) => `  ${c.name.padEnd(24)} ${c.count}`));
  lines.push(`skipped    ${skipped.length}`, ...skipped.map((x) => `  ${x.source}: ${x.reason}`));
  return lines.join('\n');
}
