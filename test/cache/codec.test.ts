import { describe, expect, it } from 'vitest';
import {
  DEFAULT_UINT8_QUANTIZATION,
  FeatureCodec,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  maxQuantizationError,
} from '../../src/cache/index.js';
import { prng, randomMap } from './helpers.js';

// Reference: the nearest binary16 value in float64, ties to the even significand, by searching the
// sorted list of all finite halves. Independent of the bit tricks in codec.ts.
const finiteHalves: { v: number; bits: number }[] = [];
for (let bits = 0; bits < 0x7c00; bits++) {
  const e = bits >> 10;
  const m = bits & 0x3ff;
  finiteHalves.push({ v: e === 0 ? m * 2 ** -24 : 2 ** (e - 15) * (1 + m / 1024), bits });
}
function referenceHalf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const s = x < 0 || Object.is(x, -0) ? -1 : 1;
  const a = Math.abs(Math.fround(x));
  // Beyond 65504 + half an ulp (65520) IEEE rounds to infinity.
  if (a >= 65520) return s * Infinity;
  let lo = 0;
  let hi = finiteHalves.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (finiteHalves[mid]!.v <= a) lo = mid;
    else hi = mid;
  }
  const below = finiteHalves[lo]!;
  const above = finiteHalves[hi]!;
  let pick = below;
  if (a >= above.v) pick = above;
  else if (a - below.v > above.v - a) pick = above;
  else if (a - below.v === above.v - a) pick = (below.bits & 1) === 0 ? below : above;
  return s * pick.v;
}

const half = (x: number): number => float16BitsToFloat32(float32ToFloat16Bits(x));

describe('float16', () => {
  it('rounds edge values as IEEE binary16 does (nearest, ties to even)', () => {
    const edges = [
      0, -0, 1, -1, 65504, -65504, 65519, 65519.99, 65520, 70000, 6.1e-5, 6.103515625e-5, 2 ** -14, 2 ** -14 - 2 ** -25,
      2 ** -24, 2 ** -25, 2 ** -25 * 1.0001, 3 * 2 ** -26, 5.96e-8, 1e-8, 1e-40, 2049, 2050, 2051, 4097, 1 + 2 ** -11, 1 + 3 * 2 ** -11,
      6, 5.99, 0.1, 1 / 3, Math.PI, 3.4e38, Infinity, -Infinity,
    ];
    for (const x of edges) {
      const got = half(x);
      expect(Object.is(got, referenceHalf(x)) || got === referenceHalf(x), `x=${x}: got ${got}, want ${referenceHalf(x)}`).toBe(true);
    }
    expect(Object.is(half(-0), -0)).toBe(true);
    expect(half(65504)).toBe(65504);
    expect(half(65520)).toBe(Infinity);
    expect(half(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal: even is 0
    expect(half(3 * 2 ** -26)).toBe(2 ** -24);
  });

  it('keeps NaN and infinities', () => {
    expect(Number.isNaN(half(NaN))).toBe(true);
    expect(half(Infinity)).toBe(Infinity);
    expect(half(-Infinity)).toBe(-Infinity);
    expect(float32ToFloat16Bits(NaN) & 0x7c00).toBe(0x7c00);
    expect(float32ToFloat16Bits(NaN) & 0x3ff).not.toBe(0);
  });

  it('round-trips every one of the 65536 halves exactly', () => {
    for (let bits = 0; bits < 65536; bits++) {
      const v = float16BitsToFloat32(bits);
      if (Number.isNaN(v)) continue;
      expect(float32ToFloat16Bits(v)).toBe(bits);
    }
  });

  it('matches the reference on random values across the whole range', () => {
    const rand = prng(7);
    for (let i = 0; i < 20000; i++) {
      const x = (rand() - 0.5) * 2 ** Math.floor(rand() * 44 - 28);
      expect(half(x)).toBe(referenceHalf(x));
    }
  });
});

describe('FeatureCodec', () => {
  const rand = prng(11);
  const x = randomMap(rand, 4096);

  it('float32 is exact and decodes into an offset without allocating', () => {
    const c = new FeatureCodec('float32');
    const bytes = c.encode(x);
    expect(bytes.length).toBe(4 * x.length);
    const out = new Float32Array(x.length + 5);
    // An odd byte offset: lmdb may hand out unaligned views.
    const unaligned = new Uint8Array(bytes.length + 1).subarray(1);
    unaligned.set(bytes);
    c.decodeInto(unaligned, out, 5);
    expect(Array.from(out.subarray(5))).toEqual(Array.from(x));
    expect(maxQuantizationError(x, 'float32')).toBe(0);
  });

  it('float16 error is within half an ulp of binary16 (≤ 2^-9 relative)', () => {
    const c = new FeatureCodec('float16');
    const back = c.decode(c.encode(x));
    for (let i = 0; i < x.length; i++) expect(back[i]).toBe(referenceHalf(x[i]!));
    const odd = new Uint8Array(2 * x.length + 1).subarray(1); // the unaligned path decodes alike
    odd.set(c.encode(x));
    expect(Array.from(c.decode(odd))).toEqual(Array.from(back));
    expect(maxQuantizationError(x, 'float16')).toBeLessThanOrEqual(6 * 2 ** -11);
  });

  it('uint8 with the default scale 6/255 errs by at most scale/2 inside [0, 6]', () => {
    const c = new FeatureCodec('uint8');
    expect(c.quantization).toEqual(DEFAULT_UINT8_QUANTIZATION);
    const bytes = c.encode(x);
    expect(bytes.length).toBe(x.length);
    const back = c.decode(bytes);
    const scale = 6 / 255;
    for (let i = 0; i < x.length; i++) expect(Math.abs(back[i]! - x[i]!)).toBeLessThanOrEqual(scale / 2 + 1e-6);
    expect(back[x.indexOf(0)]).toBe(0); // ReLU zeros stay exactly zero
    expect(maxQuantizationError(x, 'uint8')).toBeLessThanOrEqual(scale / 2 + 1e-6);
  });

  it('uint8 clips outside the range and counts it', () => {
    const c = new FeatureCodec('uint8');
    const stats = { values: 0, clipped: 0, maxError: 0 };
    const back = c.decode(c.encode(new Float32Array([-1, 0, 3, 6, 7.5, NaN]), stats));
    expect(back[0]).toBe(0);
    expect(back[4]).toBeCloseTo(6, 6);
    expect(stats).toMatchObject({ values: 6, clipped: 3 });
    expect(stats.maxError).toBe(Infinity); // the NaN
    expect(maxQuantizationError(new Float32Array([7.5]), 'uint8')).toBeCloseTo(1.5, 5);
  });

  it('uint8 honours a custom scale and zero point', () => {
    const q = { scale: 0.05, zeroPoint: 128 };
    const c = new FeatureCodec('uint8', q);
    const v = new Float32Array([-6.4, -1, 0, 1.02, 6.35]);
    const back = c.decode(c.encode(v));
    for (let i = 0; i < v.length; i++) expect(Math.abs(back[i]! - v[i]!)).toBeLessThanOrEqual(0.025 + 1e-6);
  });
});
