/**
 * Small SVG charts for reports: line charts, a histogram and a confusion-matrix heat map. Plain
 * strings, no dependencies, so a report is one self-contained HTML file that also renders to PNG
 * with sharp (librsvg).
 */

export interface Series {
  name: string;
  /** Points; NaN or undefined y values are gaps. */
  points: { x: number; y: number | undefined }[];
  dashed?: boolean;
}

/** Dash patterns, cycled once the palette is used up: series i gets colour i mod 10 and dash ⌊i/10⌋. */
const DASHES = ['', '6 4', '2 3', '10 3 2 3', '1 6'];
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"';

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** About `count` round tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

export interface LineChartArgs {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  width?: number;
  height?: number;
  /** Fix the y range (e.g. [0, 1] for accuracy). */
  yRange?: [number, number];
  note?: string;
}

export function lineChart(a: LineChartArgs): string {
  const W = a.width ?? 640;
  const H = a.height ?? 360;
  const m = { l: 64, r: 150, t: 40, b: 48 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const pts = a.series.flatMap((s) => s.points.filter((p) => p.y != null && Number.isFinite(p.y)));
  const xs = pts.map((p) => p.x);
  const ys = pts.map((p) => p.y!);
  let [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  if (x1 === x0) x1 = x0 + 1;
  let [y0, y1] = a.yRange ?? (ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1]);
  if (!a.yRange) {
    const pad = (y1 - y0) * 0.08 || Math.abs(y0) * 0.1 || 1;
    y0 -= pad;
    y1 += pad;
    if (Math.min(...ys) >= 0 && y0 < 0) y0 = 0;
  }
  const X = (x: number) => m.l + ((x - x0) / (x1 - x0)) * pw;
  const Y = (y: number) => m.t + ph - ((y - y0) / (y1 - y0)) * ph;
  const parts: string[] = [];
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${m.l}" y="22" font-size="15" font-weight="bold" ${FONT}>${escapeXml(a.title)}</text>`);
  for (const t of ticks(y0, y1)) {
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${Y(t)}" y2="${Y(t)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.l - 6}" y="${Y(t) + 4}" font-size="11" text-anchor="end" ${FONT}>${fmt(t)}</text>`);
  }
  const integerX = xs.every((x) => Number.isInteger(x));
  for (const t of ticks(x0, x1, 8).filter((t) => !integerX || Number.isInteger(t))) {
    parts.push(`<line x1="${X(t)}" x2="${X(t)}" y1="${m.t + ph}" y2="${m.t + ph + 4}" stroke="#333"/>`);
    parts.push(`<text x="${X(t)}" y="${m.t + ph + 17}" font-size="11" text-anchor="middle" ${FONT}>${fmt(t)}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 10}" font-size="12" text-anchor="middle" ${FONT}>${escapeXml(a.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${m.t + ph / 2}) rotate(-90)" font-size="12" text-anchor="middle" ${FONT}>${escapeXml(a.yLabel)}</text>`);
  a.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    // Explicitly dashed series keep their dash; past 10 series the dash tells apart equal colours.
    const dash = s.dashed ? '6 4' : DASHES[Math.floor(i / PALETTE.length) % DASHES.length];
    const dashAttr = dash ? ` stroke-dasharray="${dash}"` : '';
    let d = '';
    let pen = false;
    for (const p of s.points) {
      if (p.y == null || !Number.isFinite(p.y)) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)} `;
      pen = true;
    }
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${dashAttr}/>`);
    for (const p of s.points) {
      if (p.y != null && Number.isFinite(p.y)) parts.push(`<circle cx="${X(p.x).toFixed(1)}" cy="${Y(p.y).toFixed(1)}" r="2.5" fill="${color}"/>`);
    }
    const ly = m.t + 10 + i * 18;
    parts.push(`<line x1="${m.l + pw + 12}" x2="${m.l + pw + 36}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dashAttr}/>`);
    parts.push(`<text x="${m.l + pw + 40}" y="${ly + 4}" font-size="11" ${FONT}>${escapeXml(s.name)}</text>`);
  });
  if (a.note) parts.push(`<text x="${m.l}" y="${m.t - 6}" font-size="11" fill="#555" ${FONT}>${escapeXml(a.note)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${parts.join('')}</svg>`;
}

export function histogram(a: { title: string; xLabel: string; counts: number[]; lo?: number; hi?: number; width?: number; height?: number; note?: string }): string {
  const W = a.width ?? 640;
  const H = a.height ?? 300;
  const m = { l: 64, r: 24, t: 40, b: 48 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const lo = a.lo ?? 0;
  const hi = a.hi ?? 1;
  const max = Math.max(1, ...a.counts);
  const bw = pw / Math.max(1, a.counts.length);
  const parts: string[] = [`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`];
  parts.push(`<text x="${m.l}" y="22" font-size="15" font-weight="bold" ${FONT}>${escapeXml(a.title)}</text>`);
  for (const t of ticks(0, max, 4)) {
    const y = m.t + ph - (t / max) * ph;
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.l - 6}" y="${y + 4}" font-size="11" text-anchor="end" ${FONT}>${fmt(t)}</text>`);
  }
  a.counts.forEach((c, i) => {
    const h = (c / max) * ph;
    parts.push(`<rect x="${(m.l + i * bw + 1).toFixed(1)}" y="${(m.t + ph - h).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="#1f77b4"/>`);
  });
  for (const t of ticks(lo, hi, 5)) {
    const x = m.l + ((t - lo) / (hi - lo)) * pw;
    parts.push(`<text x="${x}" y="${m.t + ph + 17}" font-size="11" text-anchor="middle" ${FONT}>${fmt(t)}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 10}" font-size="12" text-anchor="middle" ${FONT}>${escapeXml(a.xLabel)}</text>`);
  if (a.note) parts.push(`<text x="${m.l}" y="${m.t - 6}" font-size="11" fill="#555" ${FONT}>${escapeXml(a.note)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${parts.join('')}</svg>`;
}

/** Rows: true class; columns: predicted. Cells shaded by the row-normalised rate, labelled with counts. */
export function confusionMatrix(a: { title: string; classes: string[]; matrix: number[][] }): string {
  const k = a.classes.length;
  const cell = Math.max(22, Math.min(48, Math.floor(480 / Math.max(1, k))));
  const labelW = Math.min(160, 8 + 7 * Math.max(...a.classes.map((c) => c.length)));
  const m = { l: labelW + 24, t: 50 + labelW * 0.7, r: 20, b: 40 };
  const W = m.l + k * cell + m.r;
  const H = m.t + k * cell + m.b;
  const parts: string[] = [`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`];
  parts.push(`<text x="12" y="22" font-size="15" font-weight="bold" ${FONT}>${escapeXml(a.title)}</text>`);
  a.matrix.forEach((row, i) => {
    const total = row.reduce((x, y) => x + y, 0) || 1;
    row.forEach((v, j) => {
      const rate = v / total;
      const shade = Math.round(255 - rate * 200);
      const fill = i === j ? `rgb(${shade},${Math.round(255 - rate * 120)},${shade})` : `rgb(255,${shade},${shade})`;
      const x = m.l + j * cell;
      const y = m.t + i * cell;
      parts.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" stroke="#ccc"/>`);
      if (v) parts.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" font-size="${cell < 30 ? 9 : 11}" text-anchor="middle" ${FONT}>${v}</text>`);
    });
    parts.push(`<text x="${m.l - 6}" y="${m.t + i * cell + cell / 2 + 4}" font-size="11" text-anchor="end" ${FONT}>${escapeXml(a.classes[i])}</text>`);
  });
  a.classes.forEach((c, j) => {
    const x = m.l + j * cell + cell / 2;
    parts.push(`<text transform="translate(${x + 4} ${m.t - 6}) rotate(-50)" font-size="11" ${FONT}>${escapeXml(c)}</text>`);
  });
  parts.push(`<text x="${m.l + (k * cell) / 2}" y="${H - 12}" font-size="12" text-anchor="middle" ${FONT}>predicted class (rows: true class)</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${parts.join('')}</svg>`;
}

/**
 * A reliability diagram (Guo et al. 2017, Figure 1): per confidence bin, the fraction correct as a
 * bar against the diagonal (perfect calibration), the gap to it shaded, and each bin's sample count
 * under it. Empty bins are left blank.
 */
export function reliabilityDiagram(a: { title: string; bins: { lo: number; hi: number; count: number; confidence: number; accuracy: number }[]; note?: string; xLabel?: string; yLabel?: string; width?: number; height?: number }): string {
  const W = a.width ?? 440;
  const H = a.height ?? 400;
  const m = { l: 56, r: 16, t: 44, b: 70 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const X = (v: number) => m.l + v * pw;
  const Y = (v: number) => m.t + ph - v * ph;
  const parts: string[] = [`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`];
  parts.push(`<text x="12" y="22" font-size="15" font-weight="bold" ${FONT}>${escapeXml(a.title)}</text>`);
  for (const t of ticks(0, 1, 5)) {
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${Y(t)}" y2="${Y(t)}" stroke="#eee"/>`);
    parts.push(`<text x="${m.l - 6}" y="${Y(t) + 4}" font-size="11" text-anchor="end" ${FONT}>${fmt(t)}</text>`);
    parts.push(`<text x="${X(t)}" y="${m.t + ph + 16}" font-size="11" text-anchor="middle" ${FONT}>${fmt(t)}</text>`);
  }
  for (const b of a.bins) {
    if (!b.count) continue;
    const x = X(b.lo) + 1;
    const w = Math.max(1, X(b.hi) - X(b.lo) - 2);
    parts.push(`<rect class="bin" x="${x.toFixed(1)}" y="${Y(b.accuracy).toFixed(1)}" width="${w.toFixed(1)}" height="${(Y(0) - Y(b.accuracy)).toFixed(1)}" fill="#1f77b4" fill-opacity="0.85"/>`);
    // The gap between the bin's mean confidence and its accuracy: what ECE sums (weighted by count).
    const top = Math.max(b.accuracy, b.confidence);
    const bottom = Math.min(b.accuracy, b.confidence);
    parts.push(`<rect x="${x.toFixed(1)}" y="${Y(top).toFixed(1)}" width="${w.toFixed(1)}" height="${(Y(bottom) - Y(top)).toFixed(1)}" fill="#d62728" fill-opacity="0.3" stroke="#d62728" stroke-width="0.5"/>`);
    parts.push(`<text x="${(x + w / 2).toFixed(1)}" y="${m.t + ph + 30}" font-size="9" text-anchor="middle" ${FONT}>${b.count}</text>`);
  }
  parts.push(`<line x1="${X(0)}" y1="${Y(0)}" x2="${X(1)}" y2="${Y(1)}" stroke="#333" stroke-dasharray="4 3"/>`);
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${m.l - 6}" y="${m.t + ph + 30}" font-size="9" text-anchor="end" fill="#555" ${FONT}>n</text>`);
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 22}" font-size="12" text-anchor="middle" ${FONT}>${escapeXml(a.xLabel ?? 'confidence (top-1 probability)')}</text>`);
  parts.push(`<text transform="translate(14 ${m.t + ph / 2}) rotate(-90)" font-size="12" text-anchor="middle" ${FONT}>${escapeXml(a.yLabel ?? 'accuracy')}</text>`);
  if (a.note) parts.push(`<text x="${m.l}" y="${H - 6}" font-size="11" fill="#555" ${FONT}>${escapeXml(a.note)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${parts.join('')}</svg>`;
}

/**
 * A heat map of Δ against the baseline: rows (e.g. head and grid values) × columns (mix point and
 * α). Green where the setting is better, red where worse (`lowerIsBetter` flips the sign), the
 * shade by |Δ| over the largest |Δ|; a cell whose verdict survived the correction is outlined and
 * marked ✓ (better) or ✗ (worse). Missing cells stay grey.
 */
export function deltaHeatMap(a: { title: string; rows: string[]; cols: string[]; cells: ({ delta: number; label: string; verdict: string } | undefined)[][]; lowerIsBetter: boolean; note?: string }): string {
  const cellW = 96;
  const cellH = 34;
  const labelW = Math.min(320, 10 + 7 * Math.max(4, ...a.rows.map((r) => r.length)));
  const m = { l: labelW + 12, t: 64, r: 16, b: 36 };
  const W = Math.max(460, m.l + a.cols.length * cellW + m.r);
  const H = m.t + a.rows.length * cellH + m.b;
  const max = Math.max(1e-12, ...a.cells.flat().map((c) => (c && Number.isFinite(c.delta) ? Math.abs(c.delta) : 0)));
  const parts: string[] = [`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`];
  parts.push(`<text x="12" y="22" font-size="15" font-weight="bold" ${FONT}>${escapeXml(a.title)}</text>`);
  a.cols.forEach((c, j) => parts.push(`<text x="${m.l + j * cellW + cellW / 2}" y="${m.t - 8}" font-size="11" text-anchor="middle" ${FONT}>${escapeXml(c)}</text>`));
  a.rows.forEach((r, i) => {
    parts.push(`<text x="${m.l - 6}" y="${m.t + i * cellH + cellH / 2 + 4}" font-size="11" text-anchor="end" ${FONT}>${escapeXml(r)}</text>`);
    a.cols.forEach((_, j) => {
      const c = a.cells[i]?.[j];
      const x = m.l + j * cellW;
      const y = m.t + i * cellH;
      let fill = '#f0f0f0';
      if (c && Number.isFinite(c.delta)) {
        const good = a.lowerIsBetter ? c.delta < 0 : c.delta > 0;
        const s = Math.round(235 - (Math.abs(c.delta) / max) * 150);
        fill = good ? `rgb(${s},235,${s})` : `rgb(245,${s},${s})`;
      }
      const decided = c?.verdict === 'better' || c?.verdict === 'worse';
      parts.push(`<rect class="cell" x="${x}" y="${y}" width="${cellW}" height="${cellH}" fill="${fill}" stroke="${decided ? '#222' : '#ccc'}" stroke-width="${decided ? 2 : 1}"/>`);
      if (c) parts.push(`<text x="${x + cellW / 2}" y="${y + cellH / 2 + 4}" font-size="11" text-anchor="middle" ${decided ? 'font-weight="bold" ' : ''}${FONT}>${escapeXml(c.label)}${c.verdict === 'better' ? ' ✓' : c.verdict === 'worse' ? ' ✗' : ''}</text>`);
    });
  });
  parts.push(`<text x="12" y="40" font-size="11" fill="#555" ${FONT}>${escapeXml(a.note ?? `green: better (${a.lowerIsBetter ? 'lower' : 'higher'}); outlined ✓/✗: survives Holm's correction`)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${parts.join('')}</svg>`;
}
