// x̃ᵢ = λᵢ·xᵢ + (1 − λᵢ)·x_π(i), on host rows and as X̃ = M·X (docs/architecture.md, "Mixup semantics": Features).
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/random.js';
import { mixingMatrix, mixRows } from '../../src/mixup/mix.js';
import { sampleLambda } from '../../src/mixup/lambda.js';

function batch(seed: number, b: number, d: number) {
  const rng = new Rng(seed);
  const x = new Float32Array(b * d).map(() => rng.normal() * 3);
  const lam = sampleLambda(rng, b, { alpha: 0.4, mode: 'sample', dominant: false });
  const partner = rng.permutation(b);
  return { x, lam, partner };
}

describe('mixRows', () => {
  it('equals a float64 hand computation', () => {
    const { x, lam, partner } = batch(1, 13, 7);
    const hand = new Float64Array(x.length);
    for (let i = 0; i < 13; i++) {
      for (let k = 0; k < 7; k++) hand[i * 7 + k] = lam[i] * x[i * 7 + k] + (1 - lam[i]) * x[partner[i] * 7 + k];
    }
    // In float64 the same arithmetic gives the same bits; into float32 it is the rounded value.
    const out64 = mixRows(x, 7, lam, partner, new Float64Array(x.length));
    for (let j = 0; j < x.length; j++) {
      const i = Math.floor(j / 7);
      const p = partner[i];
      if (p === i) expect(out64[j]).toBe(x[j]);
      else expect(out64[j]).toBe(hand[j]);
    }
    const out32 = mixRows(x, 7, lam, partner);
    expect(out32).toBeInstanceOf(Float32Array);
    for (let j = 0; j < x.length; j++) expect(out32[j]).toBe(Math.fround(out64[j]));
  });

  it('copies rows with π(i) = i or λ = 1 exactly', () => {
    const { x } = batch(2, 4, 5);
    const out = mixRows(x, 5, Float32Array.of(0.3, 1, 0.5, 0.7), Int32Array.of(0, 2, 1, 3));
    expect(out.subarray(0, 5)).toEqual(x.subarray(0, 5));
    expect(out.subarray(5, 10)).toEqual(x.subarray(5, 10));
    expect(out.subarray(15, 20)).toEqual(x.subarray(15, 20));
    expect(out.subarray(10, 15)).not.toEqual(x.subarray(10, 15));
  });

  it('refuses an output that shares memory with x, and mismatched sizes', () => {
    const { x, lam, partner } = batch(3, 4, 2);
    expect(() => mixRows(x, 2, lam, partner, x)).toThrow(/share memory/);
    const big = new Float32Array(16);
    expect(() => mixRows(big.subarray(0, 8), 2, lam, partner, big.subarray(4, 12))).toThrow(/share memory/);
    expect(() => mixRows(x, 3, lam, partner)).toThrow(/need/);
    expect(() => mixRows(x, 2, lam, Int32Array.of(0, 1, 2))).toThrow(/partner/);
    expect(() => mixRows(x, 2, lam, Int32Array.of(0, 1, 2, 4))).toThrow(/outside the batch/);
  });
});

describe('mixingMatrix', () => {
  it('M·X (float64 matmul) equals mixRows', () => {
    const b = 11;
    const d = 6;
    const { x, lam, partner } = batch(4, b, d);
    partner[3] = 3; // a self-pair: an identity row
    const m = mixingMatrix(lam, partner);
    expect(m.length).toBe(b * b);
    const mx = new Float64Array(b * d);
    for (let i = 0; i < b; i++) {
      for (let k = 0; k < d; k++) {
        let s = 0;
        for (let j = 0; j < b; j++) s += m[i * b + j] * x[j * d + k];
        mx[i * d + k] = s;
      }
    }
    const rows = mixRows(x, d, lam, partner, new Float64Array(b * d));
    // M holds 1 − λ rounded to float32 (relative error ≤ 2⁻²⁴), so agreement is to ~1e-7 of |x|.
    for (let j = 0; j < mx.length; j++) expect(Math.abs(mx[j] - rows[j])).toBeLessThan(1e-6);
  });

  it('has rows summing to 1, and identity rows for unmixed samples', () => {
    const m = mixingMatrix(Float32Array.of(0.75, 1, 0.6), Int32Array.of(2, 1, 0));
    expect([...m]).toEqual([0.75, 0, 0.25, 0, 1, 0, Math.fround(1 - Math.fround(0.6)), 0, Math.fround(0.6)]);
  });
});
