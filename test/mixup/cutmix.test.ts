// CutMix on feature maps (docs/architecture.md, "Mixup semantics": CutMix on feature maps): a whole-cell box of about (1 − λ) of
// the grid, pasted from the partner, with λ corrected to the true pasted area.
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/random.js';
import { applyCutmix, boxArea, correctedLambda, cutmixBox } from '../../src/mixup/cutmix.js';
import { K_SE, moments } from './stats.js';

/** B×H×W×C maps whose every value is distinct: v = ((i·H + y)·W + x)·C + c + 1. */
function distinctMaps(b: number, h: number, w: number, c: number): Float32Array {
  return new Float32Array(b * h * w * c).map((_, j) => j + 1);
}

/** Cells of sample i that differ from the input in any channel. */
function changedCells(x: Float32Array, out: Float32Array, i: number, h: number, w: number, c: number): number {
  let n = 0;
  for (let cell = 0; cell < h * w; cell++) {
    const base = (i * h * w + cell) * c;
    let changed = false;
    for (let k = 0; k < c; k++) if (out[base + k] !== x[base + k]) changed = true;
    if (changed) n++;
  }
  return n;
}

describe('cutmixBox', () => {
  it('stays within the grid and is a whole-cell box', () => {
    const rng = new Rng(1);
    const bad: string[] = [];
    for (const [h, w] of [[7, 7], [1, 1], [5, 9], [14, 3]] as const) {
      for (let t = 0; t < 500; t++) {
        const box = cutmixBox(rng, h, w, rng.uniform());
        const whole = [box.y0, box.x0, box.y1, box.x1].every(Number.isInteger);
        const inside = 0 <= box.y0 && box.y0 <= box.y1 && box.y1 <= h && 0 <= box.x0 && box.x0 <= box.x1 && box.x1 <= w;
        if (!whole || !inside) bad.push(`${h}×${w}: ${JSON.stringify(box)}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('before clipping covers (1 − λ) of the grid up to rounding to whole cells', () => {
    // Side h = round(r·H) with r = √(1 − λ), so |h − r·H| ≤ 1/2 cell; an unclipped box is h×w.
    const rng = new Rng(2);
    for (const lam of [0, 0.1, 0.3, 0.5, 0.8, 0.95, 1]) {
      const r = Math.sqrt(1 - lam);
      for (const [h, w] of [[7, 7], [224, 224]] as const) {
        const sh = Math.round(r * h);
        const sw = Math.round(r * w);
        // Clipping only shrinks: every box is at most sh×sw, and one clear of the borders is exactly that.
        for (let t = 0; t < 500; t++) {
          const box = cutmixBox(rng, h, w, lam);
          expect(box.y1 - box.y0).toBeLessThanOrEqual(sh);
          expect(box.x1 - box.x0).toBeLessThanOrEqual(sw);
          if (box.y0 > 0 && box.y1 < h) expect(box.y1 - box.y0).toBe(sh);
          if (box.x0 > 0 && box.x1 < w) expect(box.x1 - box.x0).toBe(sw);
        }
        const bound = (r + 0.5 / h) * (r + 0.5 / w) - r * r;
        expect(Math.abs((sh * sw) / (h * w) - (1 - lam))).toBeLessThanOrEqual(bound + 1e-12);
      }
    }
  });

  it('has, on average, the area of a uniformly centred clipped box (exact expectation, 5 SE)', () => {
    // Clipping shrinks boxes near the border, so the mean area is below 1 − λ (on 7×7 markedly:
    // λ = 0.5 gives 0.35, not 0.5); that is why λ is corrected. The expectation is enumerable:
    // E[area] = E[len_y]·E[len_x] with the centre uniform over cells.
    const rng = new Rng(3);
    const n = 20_000;
    for (const [h, w] of [[7, 7], [10, 14]] as const) {
      for (const lam of [0.1, 0.5, 0.8]) {
        const r = Math.sqrt(1 - lam);
        const meanLen = (size: number): number => {
          const s = Math.round(r * size);
          let total = 0;
          for (let c = 0; c < size; c++) {
            const a = c - Math.floor(s / 2);
            total += Math.min(Math.max(a + s, 0), size) - Math.min(Math.max(a, 0), size);
          }
          return total / size;
        };
        const expected = (meanLen(h) * meanLen(w)) / (h * w);
        const areas = new Float64Array(n).map(() => boxArea(cutmixBox(rng, h, w, lam)) / (h * w));
        const m = moments(areas);
        expect(Math.abs(m.mean - expected)).toBeLessThan(K_SE * Math.sqrt(m.variance / n) + 1e-12);
        expect(m.mean).toBeLessThanOrEqual(1 - lam + 0.05);
      }
    }
  });

  it('is empty at λ = 1, non-empty at λ = 0, and rejects bad grids and λ', () => {
    const rng = new Rng(4);
    expect(boxArea(cutmixBox(rng, 7, 7, 1))).toBe(0);
    const full = cutmixBox(rng, 7, 7, 0);
    expect(boxArea(full)).toBeGreaterThan(0);
    expect(() => cutmixBox(rng, 0, 7, 0.5)).toThrow(/grid/);
    expect(() => cutmixBox(rng, 7, 7, 1.5)).toThrow(/λ/);
  });
});

describe('applyCutmix and correctedLambda', () => {
  it('corrected λ equals 1 − (cells actually changed)/(H·W), and pasted cells are the partner’s', () => {
    const rng = new Rng(5);
    const [b, h, w, c] = [6, 7, 7, 3];
    const x = distinctMaps(b, h, w, c);
    let wrong = 0;
    for (let t = 0; t < 200; t++) {
      const partner = rng.permutation(b);
      const box = cutmixBox(rng, h, w, rng.beta(1, 1));
      const out = applyCutmix(x, [b, h, w, c], partner, box);
      const lam = correctedLambda(box, h, w);
      for (let i = 0; i < b; i++) {
        const changed = changedCells(x, out, i, h, w, c);
        if (partner[i] === i) {
          expect(changed).toBe(0);
          continue;
        }
        expect(lam).toBe(1 - changed / (h * w));
        for (let y = 0; y < h; y++) {
          for (let xx = 0; xx < w; xx++) {
            const inside = y >= box.y0 && y < box.y1 && xx >= box.x0 && xx < box.x1;
            const src = inside ? partner[i] : i;
            for (let k = 0; k < c; k++) {
              if (out[((i * h + y) * w + xx) * c + k] !== x[((src * h + y) * w + xx) * c + k]) wrong++;
            }
          }
        }
      }
    }
    expect(wrong).toBe(0);
  });

  it('copies x when the box is empty, and refuses aliasing or boxes outside the grid', () => {
    const x = distinctMaps(2, 3, 3, 1);
    const partner = Int32Array.of(1, 0);
    expect(applyCutmix(x, [2, 3, 3, 1], partner, { y0: 1, x0: 1, y1: 1, x1: 3 })).toEqual(x);
    expect(() => applyCutmix(x, [2, 3, 3, 1], partner, { y0: 0, x0: 0, y1: 2, x1: 2 }, x)).toThrow(/share memory/);
    expect(() => applyCutmix(x, [2, 3, 3, 1], partner, { y0: 0, x0: 0, y1: 4, x1: 2 })).toThrow(/outside/);
    expect(() => applyCutmix(x, [2, 3, 3, 2], partner, { y0: 0, x0: 0, y1: 1, x1: 1 })).toThrow(/needs/);
    expect(correctedLambda({ y0: 0, x0: 0, y1: 3, x1: 3 }, 3, 3)).toBe(0);
  });

  it('writes into a float64 out when given one', () => {
    const x = distinctMaps(2, 2, 2, 1);
    const out = applyCutmix(x, [2, 2, 2, 1], Int32Array.of(1, 0), { y0: 0, x0: 0, y1: 1, x1: 1 }, new Float64Array(8));
    expect(out).toBeInstanceOf(Float64Array);
    expect([...out]).toEqual([5, 2, 3, 4, 1, 6, 7, 8]);
  });
});
