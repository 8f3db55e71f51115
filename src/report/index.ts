/**
 * Run reports: `report.html`, one self-contained file with the plots inline as SVG, and each plot
 * also as a PNG under `plots/` (rasterised by sharp), for READMEs, issues and chat.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { CompareReport, TrainReport } from './types.js';
import { confusionMatrix, escapeXml, histogram, lineChart, type Series } from './svg.js';
import { compareVerdicts, formatDiff, formatMetrics } from './format.js';
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
  if (m.kind === 'single') {
    html += htmlTable([['class', 'accuracy', 'samples'], ...m.perClass.map((p) => [p.name, Number.isNaN(p.accuracy) ? '–' : `${(100 * p.accuracy).toFixed(1)}%`, String(p.count)])]);
  }
  return html;
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
    `Δ pairs each setting with α = 0 of the same head under the same seed and gives a 95% t-interval of the mean difference: ` +
    `a setting is called better (or worse) only when that interval lies entirely above (or below) 0, and only then can it be the winner. ` +
    `With few seeds the interval is wide; add --seeds to narrow it. ` +
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
  const groups = [...new Set(r.rows.map((x) => `${x.head} @ ${x.mixAt === '-' ? 'features' : x.mixAt}`))];
  const byAlpha: Plot = {
    name: 'compare-alpha',
    title: 'Final metric by α',
    svg: lineChart({
      title: `Validation ${metricName} by α (mean over seeds)`,
      xLabel: 'α',
      yLabel: metricName,
      series: groups.map((g) => {
        const [head, mixAt] = g.split(' @ ');
        return {
          name: g,
          points: alphas.map((a) => {
            const row = r.rows.find((x) => x.head === head && x.alpha === a && (a === 0 || x.mixAt === mixAt));
            return { x: a, y: row?.value };
          }),
        };
      }),
      width: 760,
    }),
  };
  const plots = [byAlpha, curves, losses];
  await writePlots(out, plots);
  const seeds = r.seeds.length;
  const header = ['setting', 'head', 'mix at', 'α', `${metricName} mean ± sd`, 'Δ vs α = 0 [95% CI]', 'verdict', 'valid loss', 'best epoch', 'seconds'];
  const cells = r.rows.map((x) => [
    x.name,
    x.head,
    x.mixAt,
    String(x.alpha),
    Number.isFinite(x.sd) ? `${(100 * x.value).toFixed(2)}% ± ${(100 * x.sd).toFixed(2)}` : `${(100 * x.value).toFixed(2)}%`,
    formatDiff(x.diff),
    x.winner ? 'winner' : x.verdict,
    num(x.validLoss),
    x.bestEpoch.toFixed(1),
    x.seconds.toFixed(1),
  ]);
  const table = `<table><tr>${header.map((h) => `<th>${escapeXml(h)}</th>`).join('')}</tr>${cells
    .map((c, i) => `<tr${r.rows[i].winner ? ' class="winner"' : ''}>${c.map((v) => `<td>${escapeXml(v)}</td>`).join('')}</tr>`)
    .join('')}</table>`;
  const verdicts = compareVerdicts(r.rows).map((l) => `<li>${escapeXml(l)}</li>`).join('');
  const body = `<h1>mixhead comparison</h1>
<p>Each setting trains one head per seed (${seeds} seed${seeds === 1 ? '' : 's'}: ${r.seeds.join(', ')}) on the same cached features.</p>
<ul class="verdicts">${verdicts}</ul>
${table}
<div class="plots">${plots.map((p) => `<figure>${p.svg}</figure>`).join('')}</div>
<h2>Reading this</h2><p class="note">${escapeXml(readingThisNote(r))}</p>
<h2>Options shared by every run (every value used)</h2><pre>${escapeXml(JSON.stringify(r.options, null, 2))}</pre>`;
  const file = path.join(out, 'report.html');
  await writeFileAtomic(file, page('mixhead comparison', body));
  return path.resolve(file);
}
