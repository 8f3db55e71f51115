/**
 * Run reports: `report.html`, one self-contained file with the plots inline as SVG, and each plot
 * also as a PNG under `plots/` (rasterised by sharp), for READMEs, issues and chat.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { CompareReport, TrainReport } from './types.js';
import type { CompareRow } from './format.js';
import { confusionMatrix, deltaHeatMap, escapeXml, histogram, lineChart, reliabilityDiagram, type Series } from './svg.js';
import { compareFamilies, compareVerdicts, formatDiff, formatMetrics, formatValue } from './format.js';
import { writeFileAtomic } from '../base/fs.js';

/** Why the mixed loss sits above the clean ones, with two of the run's own classes as the example. */
export function whyMixedLossIsHigher(classes: readonly string[]): string {
  const [a, b] = classes.length >= 2 ? [classes[0], classes[classes.length - 1]] : ['one class', 'another'];
  return (
    'The mixed training loss is measured on mixed samples with blended targets: a target such as ' +
    `70% "${a}" / 30% "${b}" cannot be predicted with certainty, so this loss stays well above zero and ` +
    'often above the validation loss, which is measured on clean samples. That is expected and not a sign ' +
    'of underfitting. Compare the clean training loss (the unmixed training set, evaluated like the ' +
    'validation set) with the validation loss to judge over- or underfitting.'
  );
}

interface Plot {
  name: string;
  title: string;
  svg: string;
}

async function writePlots(out: string, plots: Plot[]): Promise<void> {
  const dir = path.join(out, 'plots');
  await fs.mkdir(dir, { recursive: true });
  for (const p of plots) {
    await fs.writeFile(path.join(dir, `${p.name}.svg`), p.svg);
    const png = await sharp(Buffer.from(p.svg)).png().toBuffer();
    await fs.writeFile(path.join(dir, `${p.name}.png`), png);
  }
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title>
<style>
body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}.note{background:#f7f7e8;border-left:4px solid #c9c36a;padding:8px 12px;font-size:13px;max-width:820px}
.plots{display:flex;flex-wrap:wrap;gap:12px}tr.winner td{background:#e3f4e1;font-weight:bold}.plots figure{margin:0}code{background:#f2f2f2;padding:1px 4px}
</style></head><body>${body}</body></html>`;
}

function htmlTable(rows: string[][]): string {
  const [head, ...rest] = rows;
  return `<table><tr>${head.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr>${rest
    .map((r) => `<tr>${r.map((c) => `<td>${escapeXml(c)}</td>`).join('')}</tr>`)
    .join('')}</table>`;
}

const num = (v: number | undefined, d = 4) => (v == null || Number.isNaN(v) ? '–' : v.toFixed(d));

export function trainPlots(r: TrainReport, prefix = ''): Plot[] {
  const ep = r.history.map((e) => e.epoch);
  const lossSeries: Series[] = [
    { name: 'train (mixed)', points: r.history.map((e) => ({ x: e.epoch, y: e.mixedLoss })) },
    { name: 'train (clean)', points: r.history.map((e) => ({ x: e.epoch, y: e.cleanLoss })), dashed: true },
  ];
  if (r.history.some((e) => e.validLoss != null)) lossSeries.push({ name: 'validation', points: r.history.map((e) => ({ x: e.epoch, y: e.validLoss })) });
  const plots: Plot[] = [
    { name: `${prefix}loss`, title: 'Loss per epoch', svg: lineChart({ title: 'Loss per epoch', xLabel: 'epoch', yLabel: 'loss', series: lossSeries }) },
  ];
  if (r.history.some((e) => e.metric)) {
    const name = r.history.find((e) => e.metric)!.metric!.name;
    plots.push({
      name: `${prefix}metric`,
      title: `Validation ${name}`,
      svg: lineChart({ title: `Validation ${name} per epoch`, xLabel: 'epoch', yLabel: name, series: [{ name, points: r.history.map((e) => ({ x: e.epoch, y: e.metric?.value })) }], note: `best epoch ${r.bestEpoch}` }),
    });
  }
  const total = r.lambdaHistogram.reduce((a, b) => a + b, 0);
  plots.push({
    name: `${prefix}lambda`,
    title: 'λ used',
    svg: histogram({ title: 'λ values used in training', xLabel: 'λ (weight of the original sample)', counts: r.lambdaHistogram, note: `${total} samples over ${ep.length} epochs; λ = 1 means unmixed` }),
  });
  if (r.lrFind) plots.push({ name: `${prefix}lr-find`, title: 'Learning-rate finder', svg: lrFindChart(r.lrFind) });
  if (r.threshold) {
    const t = r.threshold;
    plots.push({
      name: `${prefix}threshold`,
      title: 'Decision threshold',
      svg: lineChart({
        title: 'Validation micro-F1 by decision threshold',
        xLabel: 'threshold',
        yLabel: 'micro-F1',
        series: [
          { name: 'micro-F1', points: t.curve.map((p) => ({ x: p.threshold, y: p.microF1 })) },
          { name: `chosen ${t.threshold}`, points: [{ x: t.threshold, y: 0 }, { x: t.threshold, y: t.microF1 }], dashed: true },
          { name: '0.5', points: [{ x: 0.5, y: 0 }, { x: 0.5, y: t.microF1At05 }], dashed: true },
        ],
        note: `F1 ${(100 * t.microF1).toFixed(1)}% at ${t.threshold}, ${(100 * t.microF1At05).toFixed(1)}% at 0.5`,
      }),
    });
  }
  const yLabel = r.metrics.kind === 'multi' ? 'fraction positive' : 'accuracy';
  const xLabel = r.metrics.kind === 'multi' ? 'predicted probability (every label pooled)' : undefined;
  if (r.temperature) {
    const t = r.temperature;
    plots.push({ name: `${prefix}reliability-before`, title: 'Reliability before temperature scaling', svg: reliabilityDiagram({ title: 'Reliability: the head as trained', bins: t.before.reliability, xLabel, yLabel, note: `ECE ${t.before.ece.toFixed(4)}, NLL ${t.before.nll.toFixed(4)}; red: gap to the diagonal` }) });
    plots.push({ name: `${prefix}reliability-after`, title: 'Reliability after temperature scaling', svg: reliabilityDiagram({ title: `Reliability after temperature T = ${t.temperature.toFixed(3)}`, bins: t.after.reliability, xLabel, yLabel, note: `ECE ${t.after.ece.toFixed(4)}, NLL ${t.after.nll.toFixed(4)} (cross-fitted on the two halves)` }) });
  } else if (r.metrics.reliability) {
    plots.push({ name: `${prefix}reliability`, title: 'Reliability', svg: reliabilityDiagram({ title: 'Reliability (no validation set: training data)', bins: r.metrics.reliability, xLabel, yLabel, note: `ECE ${num(r.metrics.ece)}` }) });
  }
  if (r.metrics.kind === 'single') {
    const classes = r.metrics.perClass.map((p) => p.name);
    plots.push({ name: `${prefix}confusion`, title: 'Confusion matrix', svg: confusionMatrix({ title: 'Confusion matrix (validation)', classes, matrix: r.metrics.confusion }) });
  }
  return plots;
}

/** The lr finder's loss against log10(lr), raw and smoothed, the suggestion marked. */
export function lrFindChart(f: NonNullable<TrainReport['lrFind']>): string {
  const x = (lr: number) => Math.log10(lr);
  const finite = f.smoothed.filter((v) => Number.isFinite(v));
  const raw = f.losses.filter((v) => Number.isFinite(v));
  const lo = Math.min(...finite, ...raw);
  const hi = Math.min(Math.max(...finite), 4 * Math.min(...finite));
  // Raw losses past the range (the divergence) would be drawn outside the frame: they end the line.
  const inRange = (v: number) => (v <= hi + 0.1 * (hi - lo) ? v : undefined);
  return lineChart({
    title: 'Learning-rate finder: loss while the rate grows',
    xLabel: 'log10(learning rate)',
    yLabel: 'training loss',
    series: [
      { name: 'loss (smoothed)', points: f.lrs.map((lr, i) => ({ x: x(lr), y: f.smoothed[i] })) },
      { name: 'loss (raw)', points: f.lrs.map((lr, i) => ({ x: x(lr), y: inRange(f.losses[i]) })), dashed: true },
      { name: `chosen ${f.suggestion.toExponential(1)}`, points: [{ x: x(f.suggestion), y: lo }, { x: x(f.suggestion), y: hi }], dashed: true },
    ],
    yRange: [Math.max(0, lo - 0.1 * (hi - lo)), hi + 0.1 * (hi - lo)],
    note: `rule: ${f.rule}; minimum of the smoothed loss at ${f.minimumLr.toExponential(1)}${f.diverged ? '; stopped when the loss diverged' : ''}`,
  });
}

function metricsSection(r: TrainReport): string {
  const m = r.metrics;
  let html = `<p><b>${escapeXml(formatMetrics(m))}</b> on ${r.validSize ? `${r.validSize} validation samples` : 'the training set (no validation set given)'}; best epoch ${r.bestEpoch}${r.stoppedEarly ? ' (stopped early)' : ''}.</p>`;
  const lr = r.options.lr as number | undefined;
  if (lr != null) html += `<p>Learning rate ${lr.toExponential(2)}${r.lrFind ? ` (chosen by the lr finder, rule ${escapeXml(r.lrFind.rule)})` : ''}; ${r.history.length} epochs${r.options.epochsRequested === 'auto' ? ' (automatic: about 1,000 optimizer steps)' : ''}.</p>`;
  if (r.stillImproving) html += `<p class="note">The best epoch is the last one: the head was still improving. More epochs (--epochs) may give a better head.</p>`;
  if (m.kind === 'multi') {
    html += r.threshold
      ? `<p>Decision threshold ${r.threshold.threshold}${r.threshold.perClass ? ' (and one per class)' : ''}, calibrated on validation for micro-F1: ${(100 * r.threshold.microF1).toFixed(1)}% there, ${(100 * r.threshold.microF1At05).toFixed(1)}% at 0.5. Stored in meta.json; eval and predict use it.</p>`
      : `<p class="note">No validation set: the decision threshold stays at 0.5. Give --valid or --valid-split to calibrate it.</p>`;
    if (m.noPositive.length) html += `<p class="note">${m.noPositive.length} class(es) have no positive in this set; their AP and F1 count as 0 in mAP and macro-F1 (as scikit-learn).</p>`;
  }
  if (m.kind === 'multi' && r.thresholdCrossFit) {
    html += `<p>Cross-fitted micro-F1 (threshold fitted on one half of validation, scored on the other, both ways): <b>${(100 * r.thresholdCrossFit.microF1).toFixed(1)}%</b> — the figure to expect on new data; the ${(100 * (r.threshold?.microF1 ?? NaN)).toFixed(1)}% above is measured on the data the threshold was tuned on.</p>`;
  }
  html += calibrationSection(r);
  if (m.kind === 'single' && m.perClass[0]?.precision != null) {
    const p1 = (v: number) => (Number.isNaN(v) ? '–' : `${(100 * v).toFixed(1)}%`);
    html += `<h2>Per class</h2><p>Macro-F1 ${p1(m.macroF1)}, balanced accuracy ${p1(m.balancedAccuracy)} (the mean recall over classes: accuracy that every class counts in equally).</p>`;
    html += htmlTable([['class', 'precision', 'recall', 'F1', 'samples'], ...m.perClass.map((p) => [p.name, p1(p.precision), p1(p.recall), p1(p.f1), String(p.count)])]);
    const pairs = mostConfused(m.confusion, m.perClass.map((p) => p.name));
    if (pairs.length) html += `<p>Most confused (true → predicted): ${pairs.map((x) => `${escapeXml(x.truth)} → ${escapeXml(x.predicted)} (${x.count})`).join(', ')}.</p>`;
  } else if (m.kind === 'single') {
    html += htmlTable([['class', 'accuracy', 'samples'], ...m.perClass.map((p) => [p.name, Number.isNaN(p.accuracy) ? '–' : `${(100 * p.accuracy).toFixed(1)}%`, String(p.count)])]);
  }
  return html;
}

/** The off-diagonal cells of a confusion matrix with the most samples (at most `count`), largest first. */
export function mostConfused(confusion: number[][], classes: string[], count = 5): { truth: string; predicted: string; count: number }[] {
  const cells: { truth: string; predicted: string; count: number }[] = [];
  confusion.forEach((row, i) => row.forEach((v, j) => i !== j && v > 0 && cells.push({ truth: classes[i], predicted: classes[j], count: v })));
  return cells.sort((a, b) => b.count - a.count).slice(0, count);
}

function calibrationSection(r: TrainReport): string {
  const m = r.metrics;
  if (m.ece == null) return '';
  let html = `<h2>Calibration</h2><p>NLL ${m.nll.toFixed(4)}, ECE ${m.ece.toFixed(4)} (${m.kind === 'single' ? '15 equal-width bins over the top-1 probability' : 'per label, 15 bins over its probability, averaged over labels'}), Brier ${m.brier.toFixed(4)}.`;
  if (r.temperature) {
    const t = r.temperature;
    html += ` Temperature scaling (one T fitted on validation by minimising NLL, saved in meta.json and applied by eval, predict and the web export): T = ${t.temperature.toFixed(3)}${t.temperature > 1 ? ' (the head was overconfident)' : t.temperature < 1 ? ' (the head was underconfident)' : ''}. Scored by cross-fitting (fitted on one half of validation, scored on the other, both ways): NLL ${t.before.nll.toFixed(4)} → ${t.after.nll.toFixed(4)}, ECE ${t.before.ece.toFixed(4)} → ${t.after.ece.toFixed(4)}.`;
  }
  return `${html}</p>`;
}

/** Top losses with thumbnails where the source file is still on disk, else the sample's id. */
async function topLossesSection(r: TrainReport): Promise<string> {
  const m = r.metrics;
  if (m.kind !== 'single' || !m.topLosses?.length) return '';
  const classes = m.perClass.map((p) => p.name);
  const bySample = new Map((r.samples ?? []).map((s) => [s.index, s]));
  const rows: string[] = [];
  for (const t of m.topLosses) {
    const sample = bySample.get(t.index);
    let thumb = '';
    if (sample?.source) {
      try {
        const png = await sharp(sample.source).rotate().resize(64, 64, { fit: 'cover' }).png().toBuffer();
        thumb = `<img alt="" width="64" height="64" src="data:image/png;base64,${png.toString('base64')}">`;
      } catch {
        thumb = ''; // moved, deleted or not an image: the id below still names it
      }
    }
    rows.push(`<tr><td>${thumb}</td><td>${escapeXml(sample?.id ?? `#${t.index}`)}</td><td>${escapeXml(classes[t.label])}</td><td>${escapeXml(classes[t.predicted])}</td><td>${(100 * t.probability).toFixed(1)}%</td><td>${t.loss.toFixed(3)}</td></tr>`);
  }
  return `<h2>Top losses</h2><p>The validation samples the head is most wrong about (largest −log p(true class)): often mislabelled images, or the classes it confuses.</p><table class="top-losses"><tr><th></th><th>sample</th><th>label</th><th>predicted</th><th>p(label)</th><th>loss</th></tr>${rows.join('')}</table>`;
}

export async function renderTrainReport(r: TrainReport, out: string): Promise<string> {
  const plots = trainPlots(r);
  await writePlots(out, plots);
  const rows = [
    ['epoch', 'lr', 'mixed train loss', 'clean train loss', 'valid loss', 'metric', 'samples/s'],
    ...r.history.map((e) => [String(e.epoch), e.lr.toExponential(2), num(e.mixedLoss), num(e.cleanLoss), num(e.validLoss), e.metric ? `${(100 * e.metric.value).toFixed(2)}%` : '–', e.samplesPerSecond.toFixed(0)]),
  ];
  const body = `<h1>mixhead training report</h1>
<p>Cache <code>${escapeXml(r.cache)}</code> (${r.trainSize} training samples), validation: ${escapeXml(r.valid)}. Backend <code>${escapeXml(r.backend)}</code>${r.trainEngine ? `, train engine <code>${escapeXml(r.trainEngine)}</code>` : ''}; ${r.seconds.toFixed(1)} s.</p>
<h2>Result</h2>${metricsSection(r)}
<div class="plots">${plots.map((p) => `<figure>${p.svg}</figure>`).join('')}</div>
${await topLossesSection(r)}
<h2>Why is the mixed training loss above the validation loss?</h2><p class="note">${escapeXml(whyMixedLossIsHigher(r.classes ?? []))}</p>
<h2>Epochs</h2>${htmlTable(rows)}
<h2>Options (every value used, defaults included)</h2><pre>${escapeXml(JSON.stringify(r.options, null, 2))}</pre>`;
  const file = path.join(out, 'report.html');
  await writeFileAtomic(file, page('mixhead training report', body));
  return path.resolve(file);
}

/** Mean of each epoch's value over runs (runs that stopped early drop out of later epochs). */
function meanCurve(reports: TrainReport[], pick: (e: TrainReport['history'][number]) => number | undefined): { x: number; y: number | undefined }[] {
  const epochs = Math.max(...reports.map((r) => r.history.length));
  return Array.from({ length: epochs }, (_, i) => {
    const ys = reports.map((r) => r.history[i]).filter((e) => e != null).map(pick).filter((y): y is number => y != null && Number.isFinite(y));
    return { x: i + 1, y: ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : undefined };
  });
}

/**
 * One heat map per judged metric: rows are the families (head and grid values), columns the mix
 * point and α, cells the mean paired Δ against that family's baseline.
 */
export function compareHeatMaps(r: CompareReport): Plot[] {
  const families = compareFamilies(r.rows).filter((f) => f.baseline);
  if (!families.length) return [];
  const cols = [...new Set(families.flatMap((f) => f.members.map((x) => `${x.mixAt} α ${x.alpha}`)))];
  return Object.keys(r.rows[0].metrics).map((metric) => {
    const lowerIsBetter = !r.rows[0].metrics[metric].higherIsBetter;
    const cells = families.map((f) =>
      cols.map((c) => {
        const x = f.members.find((m) => `${m.mixAt} α ${m.alpha}` === c);
        const v = x?.metrics[metric];
        if (!v?.diff) return undefined;
        return { delta: v.diff.mean, label: formatDiff({ mean: v.diff.mean, lo: NaN, hi: NaN }, metric), verdict: v.verdict };
      }),
    );
    const slug = metric.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    return { name: `compare-delta-${slug}`, title: `Δ ${metric}`, svg: deltaHeatMap({ title: `Δ ${metric} vs no mixing (mean over seeds)`, rows: families.map((f) => f.label), cols, cells, lowerIsBetter }) };
  });
}

/** The "reading this" note, in terms of this run's own validation set and classes. */
export function readingThisNote(r: CompareReport): string {
  const first = r.runs[0]?.report;
  const n = first?.validSize || first?.trainSize || 0;
  const classes = first?.classes ?? [];
  const one = n ? (100 / n).toFixed(2) : '?';
  const seeds = r.seeds.length;
  return (
    `Each row is ${seeds} run${seeds === 1 ? '' : 's'} (seeds ${r.seeds.join(', ')}); mean ± sd is over those seeds. ` +
    `On these ${n} validation samples one sample is ${one} pp of the metric, so gaps of a few samples are noise. ` +
    `Δ pairs each setting with its baseline (the same head and grid values with mixup and CutMix off) under the same seed and gives a 95% t-interval of the mean difference. ` +
    `A setting is called better (or worse) only when the paired test's p-value, adjusted by Holm's method over all settings sharing that baseline (one family per metric), is at most 0.05; ` +
    `when every seed moved by the same amount (no spread) the sign test decides instead, which needs 6 seeds on its own. Only a "better" setting can be the winner. ` +
    `For NLL and ECE lower is better: mixup often acts on calibration more than on accuracy. With few seeds the interval is wide; add --seeds to narrow it. ` +
    whyMixedLossIsHigher(classes)
  );
}

export async function renderCompareReport(r: CompareReport, out: string): Promise<string> {
  const metricName = r.rows[0]?.metric ?? 'metric';
  const bySetting = r.rows.map((row) => ({ row, reports: r.runs.filter((x) => x.name === row.name).map((x) => x.report) }));
  const curves: Plot = {
    name: 'compare-metric',
    title: 'Validation metric per setting',
    svg: lineChart({
      title: `Validation ${metricName} per epoch (mean over seeds), one curve per setting`,
      xLabel: 'epoch',
      yLabel: metricName,
      series: bySetting.map(({ row, reports }) => ({ name: row.name, points: meanCurve(reports, (e) => e.metric?.value ?? e.cleanLoss) })),
      width: 860,
      height: Math.max(360, 60 + 18 * bySetting.length),
    }),
  };
  const losses: Plot = {
    name: 'compare-loss',
    title: 'Validation loss per setting',
    svg: lineChart({
      title: 'Validation loss per epoch (mean over seeds)',
      xLabel: 'epoch',
      yLabel: 'loss',
      series: bySetting.map(({ row, reports }) => ({ name: row.name, points: meanCurve(reports, (e) => e.validLoss) })),
      width: 860,
      height: Math.max(360, 60 + 18 * bySetting.length),
    }),
  };
  const alphas = [...new Set(r.rows.map((x) => x.alpha))].sort((a, b) => a - b);
  // One curve per family (head and grid values) and mix point; α = 0 is the family's baseline.
  const gridOf = (x: CompareRow) => Object.entries(x.grid ?? {}).map(([k, v]) => `${k.split('.').at(-1)} ${v}`).join(', ');
  const groups = [...new Map(r.rows.filter((x) => x.alpha > 0).map((x) => [`${x.head}${gridOf(x) ? ` (${gridOf(x)})` : ''} @ ${x.mixAt}`, x])).entries()];
  const byAlpha: Plot = {
    name: 'compare-alpha',
    title: 'Final metric by α',
    svg: lineChart({
      title: `Validation ${metricName} by α (mean over seeds)`,
      xLabel: 'α',
      yLabel: metricName,
      series: groups.map(([name, first]) => ({
        name,
        points: alphas.map((a) => {
          const row = a === 0 ? r.rows.find((x) => x.name === first.baseline) : r.rows.find((x) => x.alpha === a && x.mixAt === first.mixAt && x.baseline === first.baseline);
          return { x: a, y: row?.value };
        }),
      })),
      width: 1000,
    }),
  };
  const plots = [byAlpha, curves, losses];
  await writePlots(out, plots);
  const seeds = r.seeds.length;
  const metrics = Object.keys(r.rows[0]?.metrics ?? {});
  const gridKeys = [...new Set(r.rows.flatMap((x) => Object.keys(x.grid ?? {})))];
  const header = ['setting', 'head', 'mix at', 'α', ...gridKeys.map((k) => k.split('.').at(-1)!), ...metrics.flatMap((m) => [`${m} mean ± sd`, `Δ ${m} [95% CI]`, `${m} verdict (Holm p)`]), 'NLL after T', 'best epoch', 'seconds'];
  const cells = r.rows.map((x) => [
    x.name,
    x.head,
    x.mixAt,
    String(x.alpha),
    ...gridKeys.map((k) => String(x.grid?.[k] ?? '–')),
    ...metrics.flatMap((m) => {
      const v = x.metrics[m];
      const p = v.pAdjusted != null && Number.isFinite(v.pAdjusted) ? ` (${v.pAdjusted < 0.001 ? '<0.001' : v.pAdjusted.toFixed(3)}${v.test === 'sign' ? ', sign test' : ''})` : '';
      return [formatValue(m, v.value, v.sd), formatDiff(v.diff, m), `${v.winner ? 'winner' : v.verdict}${p}`];
    }),
    num(x.temperedNll),
    x.bestEpoch.toFixed(1),
    x.seconds.toFixed(1),
  ]);
  for (const fl of r.floors ?? []) {
    cells.push([`floor: ${fl.name}`, '–', '–', '–', ...gridKeys.map(() => '–'), ...metrics.flatMap((m) => [fl.metrics[m] ? formatValue(m, fl.metrics[m].value) : '–', '–', 'floor']), '–', '–', fl.seconds.toFixed(1)]);
  }
  const table = `<table class="compare"><tr>${header.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr>${cells
    .map((c, i) => `<tr${r.rows[i]?.winner ? ' class="winner"' : i >= r.rows.length ? ' class="floor"' : ''}>${c.map((v) => `<td>${escapeXml(v)}</td>`).join('')}</tr>`)
    .join('')}</table>`;
  const floorsNote = (r.floors ?? []).length ? `<p class="note">${(r.floors ?? []).map((fl) => `floor ${escapeXml(fl.name)}: ${escapeXml(fl.description)}`).join('<br>')}. A head that does not beat them adds little over the backbone's features.</p>` : '';
  const heatMaps = compareHeatMaps(r);
  await writePlots(out, heatMaps);
  const verdicts = compareVerdicts(r.rows).map((l) => `<li>${escapeXml(l)}</li>`).join('');
  const body = `<h1>mixhead comparison</h1>
<p>Each setting trains one head per seed (${seeds} seed${seeds === 1 ? '' : 's'}: ${r.seeds.join(', ')}) on the same cached features.</p>
<h2>What mixup did, per metric</h2>
<ul class="verdicts">${verdicts}</ul>
${table}
${floorsNote}
<h2>Δ against the no-mixing baseline</h2>
<div class="plots">${heatMaps.map((p) => `<figure>${p.svg}</figure>`).join('')}</div>
<h2>Curves</h2>
<div class="plots">${plots.map((p) => `<figure>${p.svg}</figure>`).join('')}</div>
<h2>Reading this</h2><p class="note">${escapeXml(readingThisNote(r))}</p>
<h2>Options shared by every run (every value used)</h2><pre>${escapeXml(JSON.stringify(r.options, null, 2))}</pre>`;
  const file = path.join(out, 'report.html');
  await writeFileAtomic(file, page('mixhead comparison', body));
  return path.resolve(file);
}
