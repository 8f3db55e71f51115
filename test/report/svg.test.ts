import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { confusionMatrix, histogram, lineChart, ticks, escapeXml } from '../../src/report/svg.js';

describe('SVG charts', () => {
  it('ticks are round numbers covering the range', () => {
    expect(ticks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(ticks(0.31, 0.87, 5)).toEqual([0.4, 0.6, 0.8]);
    expect(ticks(2, 2)).toEqual([2]);
  });

  it('a line chart places points where the scales say and rasterises with sharp', async () => {
    const svg = lineChart({ title: 'loss <test>', xLabel: 'epoch', yLabel: 'loss', yRange: [0, 2], series: [{ name: 'a', points: [{ x: 1, y: 0 }, { x: 3, y: 2 }] }] });
    expect(svg).toContain('loss &lt;test&gt;');
    // Plot area: x from 64 to 640−150, y from 40 to 360−48; the two points are its corners.
    expect(svg).toMatch(/M64\.0,312\.0 L490\.0,40\.0/);
    const png = await sharp(Buffer.from(svg)).png().toBuffer();
    const meta = await sharp(png).metadata();
    expect([meta.width, meta.height]).toEqual([640, 360]);
  });

  it('gaps (NaN, undefined) break the line instead of drawing through them', () => {
    const svg = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', yRange: [0, 1], series: [{ name: 'a', points: [{ x: 0, y: 0 }, { x: 1, y: undefined }, { x: 2, y: 1 }] }] });
    expect((svg.match(/d="([^"]*)"/)![1].match(/M/g) ?? []).length).toBe(2);
  });

  it('histogram bars are proportional to the counts', () => {
    const svg = histogram({ title: 'h', xLabel: 'λ', counts: [1, 2, 4, 0] });
    const heights = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)" fill="#1f77b4"/g)].map((m) => Number(m[1]));
    expect(heights).toHaveLength(4);
    expect(heights[1] / heights[0]).toBeCloseTo(2, 1);
    expect(heights[2] / heights[0]).toBeCloseTo(4, 1);
    expect(heights[3]).toBe(0);
  });

  it('the confusion matrix prints each nonzero count and escapes class names', () => {
    const svg = confusionMatrix({ title: 'c', classes: ['a&b', 'c'], matrix: [[5, 1], [0, 7]] });
    expect(svg).toContain(escapeXml('a&b'));
    for (const n of ['>5<', '>1<', '>7<']) expect(svg).toContain(n);
    expect(svg).not.toContain('>0<');
  });
});
