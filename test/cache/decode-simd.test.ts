// The float16/uint8 decoders (wasm SIMD and the scalar fallback) against independent references:
// every binary16 bit pattern through the IEEE 754 closed form in float64, every uint8 code through
// (q − zeroPoint)·scale in float64. Also: odd offsets, lengths off the SIMD step, several chunks,
// nothing written outside the target range, and the shipped wasm bytes equal the assembled .wat.
import { afterEach, describe, expect, it } from 'vitest';
import { FeatureCodec, decoderKind, setScalarDecoding } from '../../src/cache/codec.js';
import { DECODE_WASM_BASE64 } from '../../src/cache/decode-wasm.js';
import { assembleDecoder } from '../../scripts/build-wasm.js';
import { prng } from './helpers.js';

/** binary16 by its definition: (−1)^s · 2^(e−15) · (1 + m/1024), subnormal 2^−14 · m/1024. */
function referenceHalf(bits: number): number {
  const s = bits & 0x8000 ? -1 : 1;
  const e = (bits >> 10) & 0x1f;
  const m = bits & 0x3ff;
  if (e === 0x1f) return m === 0 ? s * Infinity : NaN;
  if (e === 0) return s * 2 ** -14 * (m / 1024);
  return s * 2 ** (e - 15) * (1 + m / 1024);
}

function sameValue(got: number, want: number): boolean {
  return Object.is(got, want) || (Number.isNaN(got) && Number.isNaN(want));
}

/** Little-endian bytes of the given halves, starting at byte `shift` of a fresh buffer. */
function halfBytes(bits: ArrayLike<number>, shift = 0): Uint8Array {
  const b = new Uint8Array(2 * bits.length + shift).subarray(shift);
  for (let i = 0; i < bits.length; i++) {
    b[2 * i] = bits[i]! & 0xff;
    b[2 * i + 1] = bits[i]! >>> 8;
  }
  return b;
}

const decoders = [
  { name: 'wasm SIMD', scalar: false },
  { name: 'scalar', scalar: true },
];

afterEach(() => setScalarDecoding(false));

it('uses the SIMD decoder on this platform (so the tests below exercise it)', () => {
  expect(decoderKind()).toBe('wasm-simd');
});

describe.each(decoders)('$name decoder', ({ scalar }) => {
  it('float16: every one of the 65536 bit patterns (±0, subnormals, inf, NaN) matches the definition', () => {
    setScalarDecoding(scalar);
    const all = Array.from({ length: 65536 }, (_, i) => i);
    for (const shift of [0, 1]) {
      const got = new FeatureCodec('float16').decode(halfBytes(all, shift));
      const wrong: string[] = [];
      for (let h = 0; h < 65536; h++) {
        const want = Math.fround(referenceHalf(h));
        if (!sameValue(got[h]!, want)) wrong.push(`0x${h.toString(16)}: got ${got[h]}, want ${want}`);
      }
      expect(wrong.slice(0, 5), `shift ${shift}`).toEqual([]);
    }
    expect(Object.is(new FeatureCodec('float16').decode(halfBytes([0x8000]))[0], -0)).toBe(true);
  });

  it('float16: any length and offset, several chunks, nothing written outside the target', () => {
    setScalarDecoding(scalar);
    const rand = prng(5);
    const c = new FeatureCodec('float16');
    for (const n of [1, 3, 7, 8, 9, 17, 8191, 8192, 8193, 62720]) {
      const bits = Array.from({ length: n }, () => Math.floor(rand() * 65536));
      const out = new Float32Array(n + 13).fill(-7);
      c.decodeInto(halfBytes(bits, n % 2), out, 5);
      const wrong = bits.flatMap((b, i) => (sameValue(out[5 + i]!, Math.fround(referenceHalf(b))) ? [] : [`n ${n} i ${i}: 0x${b.toString(16)} → ${out[5 + i]}`]));
      expect(wrong.slice(0, 5)).toEqual([]);
      expect(Array.from(out.subarray(0, 5))).toEqual([-7, -7, -7, -7, -7]);
      expect(Array.from(out.subarray(5 + n))).toEqual(new Array(8).fill(-7));
    }
  });

  it.each([
    { scale: 6 / 255, zeroPoint: 0 },
    { scale: 0.0123456789, zeroPoint: 131 },
    { scale: 1e-30, zeroPoint: 255 },
    { scale: 2e36, zeroPoint: 7 }, // products beyond float32's range round to ±inf
  ])('uint8: every code equals (q − zeroPoint)·scale rounded once to float32 (%o)', (q) => {
    setScalarDecoding(scalar);
    const c = new FeatureCodec('uint8', q);
    const codes = new Uint8Array(256 * 3 + 5).map((_, i) => (i * 7) % 256);
    for (const shift of [0, 3]) {
      const src = new Uint8Array(codes.length + shift).subarray(shift);
      src.set(codes);
      const out = new Float32Array(codes.length + 4).fill(-7);
      c.decodeInto(src, out, 2);
      const want = Array.from(codes, (code) => Math.fround((code - q.zeroPoint) * q.scale));
      expect(Array.from(out.subarray(2, 2 + codes.length))).toEqual(want);
      expect([out[0], out[1], out[codes.length + 2], out[codes.length + 3]]).toEqual([-7, -7, -7, -7]);
    }
  });
});

it('the shipped wasm bytes are decode.wat as wabt assembles it (run `npm run build:wasm` after editing it)', async () => {
  const assembled = await assembleDecoder();
  expect(Buffer.from(DECODE_WASM_BASE64, 'base64').equals(Buffer.from(assembled))).toBe(true);
});
