/**
 * Bytes of one cached activation map. All dtypes are little-endian and packed, with no header:
 *   float32: 4 bytes/value (IEEE 754 binary32)
 *   float16: 2 bytes/value (IEEE 754 binary16, rounded to nearest, ties to even)
 *   uint8:   1 byte/value, q = clamp(round(x/scale) + zeroPoint, 0, 255), x̂ = (q − zeroPoint)·scale
 * Decoding writes straight into a caller's Float32Array so that a batch fills one preallocated
 * buffer without allocating per entry. float16 and uint8 decode with WebAssembly SIMD (decode.wat)
 * where the runtime has it, else with lookup tables; both give the same bits.
 */
import { endianness } from 'node:os';
import type { CacheDtype, Quantization } from './header.js';
import { DEFAULT_UINT8_QUANTIZATION } from './header.js';
import { DECODE_WASM_BASE64 } from './decode-wasm.js';

const LITTLE_ENDIAN = endianness() === 'LE';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * binary32 → binary16 bits with round-to-nearest-even (IEEE 754 §4.3.1). Overflow rounds to ±inf
 * (|x| ≥ 65520), values below half the smallest subnormal (2⁻²⁵) to ±0, NaN stays a quiet NaN.
 */
export function float32ToFloat16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15; // rebias
  if (e >= 31) return sign | 0x7c00;
  if (e >= 1) {
    let h = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    // A carry out of the mantissa correctly bumps the exponent (up to 0x7c00 = inf).
    if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
    return sign | h;
  }
  // Subnormal half: value = m·2^(exp−150) = hm·2^(−24)  ⇒  hm = m >> (14 − e).
  if (e < -10) return sign;
  const m = mant | 0x800000;
  const shift = 14 - e;
  let h = m >>> shift;
  const rem = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rem > half || (rem === half && h & 1)) h++; // may carry into the smallest normal: correct
  return sign | h;
}

/** binary16 bits → number (exact: every half is a float32). */
export function float16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + mant / 1024);
}

// 256 KiB table: decoding a half is then one lookup (the scalar decoder, used without wasm SIMD).
let halfTable: Float32Array | undefined;
function halfToFloatTable(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = float16BitsToFloat32(h);
  }
  return halfTable;
}

/**
 * float16 and uint8 decoding in WebAssembly SIMD (decode.wat). Random cache reads of those dtypes
 * spent their time in decodeInto's per-value table loop (CPU profile of CacheReader.readRows: the
 * loop's own samples dominated; lmdb's get did not), which costs a JavaScript loop 1.5–2.5 ns per
 * value on this machine against ~0.6 ns for float32's byte copy. The SIMD loop converts 8 halves
 * (or 4 codes) per step in chunks that stay in L1/L2, between a byte copy in and a float copy out.
 * Output is bit-identical to the tables (a NaN stays NaN; payload bits are not part of the format).
 */
interface SimdDecoder {
  float16(inPtr: number, outPtr: number, n: number): void;
  uint8(inPtr: number, outPtr: number, n: number, zeroPoint: number, scale: number): void;
  bytes: Uint8Array;
  floats: Float32Array;
}
/** Values per call: input at 0 (≤ 16 KiB), output at OUT_PTR (32 KiB + padding); both stay in L1/L2. */
const SIMD_CHUNK = 8192;
const OUT_PTR = 32768;
let simdDecoder: SimdDecoder | null | undefined;
let simdDisabled = false;

function loadSimdDecoder(): SimdDecoder | null {
  if (simdDisabled) return null;
  if (simdDecoder !== undefined) return simdDecoder;
  simdDecoder = null;
  // wasm memory is little-endian; on a big-endian host a Float32Array view of it would not be.
  if (!LITTLE_ENDIAN || typeof WebAssembly === 'undefined') return null;
  try {
    const module = new WebAssembly.Module(Buffer.from(DECODE_WASM_BASE64, 'base64'));
    const exports = new WebAssembly.Instance(module).exports as unknown as {
      memory: WebAssembly.Memory;
      float16: SimdDecoder['float16'];
      uint8: SimdDecoder['uint8'];
    };
    simdDecoder = {
      float16: exports.float16,
      uint8: exports.uint8,
      bytes: new Uint8Array(exports.memory.buffer, 0, OUT_PTR),
      floats: new Float32Array(exports.memory.buffer, OUT_PTR, SIMD_CHUNK + 8),
    };
  } catch {
    simdDecoder = null; // no SIMD in this runtime: the scalar tables below
  }
  return simdDecoder;
}

/** Which float16/uint8 decoder this process uses. */
export function decoderKind(): 'wasm-simd' | 'scalar' {
  return loadSimdDecoder() ? 'wasm-simd' : 'scalar';
}

/** Forces the scalar decoder (tests compare the two; benchmarks measure both). @internal */
export function setScalarDecoding(on: boolean): void {
  simdDisabled = on;
}

export function bytesPerValue(dtype: CacheDtype): number {
  return dtype === 'float32' ? 4 : dtype === 'float16' ? 2 : 1;
}

/** Running totals the writer keeps for uint8 (clipping is lossy beyond the stated bound). */
export interface QuantizationStats {
  /** Values encoded. */
  values: number;
  /** Values outside the representable range, clipped to its nearest end. */
  clipped: number;
  /** Largest |x − decode(encode(x))| seen, clipping included. */
  maxError: number;
}

export function emptyQuantizationStats(): QuantizationStats {
  return { values: 0, clipped: 0, maxError: 0 };
}

/** Encodes and decodes one cache's entries; one instance per cache (dtype and scale fixed). */
export class FeatureCodec {
  readonly bytesPerValue: number;
  readonly quantization: Quantization | undefined;
  private readonly uint8Table: Float32Array | undefined;

  constructor(
    readonly dtype: CacheDtype,
    quantization?: Quantization,
  ) {
    this.bytesPerValue = bytesPerValue(dtype);
    if (dtype === 'uint8') {
      const q = quantization ?? DEFAULT_UINT8_QUANTIZATION;
      this.quantization = q;
      this.uint8Table = new Float32Array(256);
      for (let i = 0; i < 256; i++) this.uint8Table[i] = (i - q.zeroPoint) * q.scale;
    }
  }

  byteLength(values: number): number {
    return values * this.bytesPerValue;
  }

  /** Encodes `x`; for uint8, adds clip counts and the worst error to `stats` when given. */
  encode(x: Float32Array, stats?: QuantizationStats): Uint8Array {
    const n = x.length;
    const out = new Uint8Array(n * this.bytesPerValue);
    if (this.dtype === 'float32') {
      if (LITTLE_ENDIAN) out.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
      else {
        const v = new DataView(out.buffer);
        for (let i = 0; i < n; i++) v.setFloat32(i * 4, x[i]!, true);
      }
    } else if (this.dtype === 'float16') {
      for (let i = 0; i < n; i++) {
        const h = float32ToFloat16Bits(x[i]!);
        out[2 * i] = h & 0xff;
        out[2 * i + 1] = h >>> 8;
      }
    } else {
      const { scale, zeroPoint } = this.quantization!;
      const table = this.uint8Table!;
      let clipped = 0;
      let maxError = 0;
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        let q = Math.round(v / scale) + zeroPoint;
        if (q < 0 || q > 255 || q !== q) {
          clipped++;
          q = q > 255 ? 255 : 0; // NaN clips to the zero end
        }
        out[i] = q;
        if (stats) {
          const err = Math.abs(v - table[q]!);
          if (err > maxError || err !== err) maxError = err !== err ? Infinity : err;
        }
      }
      if (stats) {
        stats.clipped += clipped;
        stats.maxError = Math.max(stats.maxError, maxError);
      }
    }
    if (stats) stats.values += n;
    return out;
  }

  decode(bytes: Uint8Array): Float32Array {
    const out = new Float32Array(bytes.length / this.bytesPerValue);
    this.decodeInto(bytes, out, 0);
    return out;
  }

  /** Decodes `bytes` into out[offset … offset + n), without allocating. */
  decodeInto(bytes: Uint8Array, out: Float32Array, offset: number): void {
    const n = bytes.length / this.bytesPerValue;
    if (!Number.isInteger(n)) throw new Error(`${bytes.length} bytes is not a whole number of ${this.dtype} values`);
    if (offset < 0 || offset + n > out.length) {
      throw new RangeError(`decodeInto: ${n} values at offset ${offset} do not fit in ${out.length}`);
    }
    if (this.dtype === 'float32') {
      if (LITTLE_ENDIAN) {
        // Byte copy: the source need not be 4-byte aligned (lmdb hands out unaligned views).
        new Uint8Array(out.buffer, out.byteOffset + offset * 4, n * 4).set(bytes);
      } else {
        const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        for (let i = 0; i < n; i++) out[offset + i] = v.getFloat32(i * 4, true);
      }
    } else {
      const simd = loadSimdDecoder();
      // The wasm uint8 path subtracts the zero point in int32 (headers require an integer one).
      if (simd && (!this.quantization || Number.isInteger(this.quantization.zeroPoint))) this.decodeSimd(simd, bytes, out, offset, n);
      else this.decodeScalar(bytes, out, offset, n);
    }
  }

  private decodeSimd(simd: SimdDecoder, bytes: Uint8Array, out: Float32Array, offset: number, n: number): void {
    const bpv = this.bytesPerValue;
    const q = this.quantization;
    for (let done = 0; done < n; done += SIMD_CHUNK) {
      const m = Math.min(SIMD_CHUNK, n - done);
      simd.bytes.set(bytes.subarray(done * bpv, (done + m) * bpv));
      if (q) simd.uint8(0, OUT_PTR, m, q.zeroPoint, q.scale);
      else simd.float16(0, OUT_PTR, m);
      out.set(simd.floats.subarray(0, m), offset + done);
    }
  }

  private decodeScalar(bytes: Uint8Array, out: Float32Array, offset: number, n: number): void {
    if (this.dtype === 'float16') {
      const t = halfToFloatTable();
      if (LITTLE_ENDIAN && (bytes.byteOffset & 1) === 0) {
        // lmdb puts large values on page boundaries, so this aligned view is the usual path.
        const h = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
        for (let i = 0; i < n; i++) out[offset + i] = t[h[i]!]!;
      } else {
        for (let i = 0; i < n; i++) out[offset + i] = t[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
      }
    } else {
      const t = this.uint8Table!;
      for (let i = 0; i < n; i++) out[offset + i] = t[bytes[i]!]!;
    }
  }
}

/** Encodes one map; a convenience over FeatureCodec for one-off use. */
export function encodeFeatures(x: Float32Array, dtype: CacheDtype, q?: Quantization): Uint8Array {
  return new FeatureCodec(dtype, q).encode(x);
}

export function decodeFeatures(bytes: Uint8Array, dtype: CacheDtype, q?: Quantization): Float32Array {
  return new FeatureCodec(dtype, q).decode(bytes);
}

/** Largest |x − decode(encode(x))| over `x` (what a cache of this dtype would lose). */
export function maxQuantizationError(x: Float32Array, dtype: CacheDtype, q?: Quantization): number {
  const codec = new FeatureCodec(dtype, q);
  const back = codec.decode(codec.encode(x));
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const a = x[i]!;
    const b = back[i]!;
    if (a === b || (a !== a && b !== b)) continue; // equal, or NaN kept as NaN
    const err = Math.abs(a - b);
    if (err !== err) return Infinity;
    if (err > worst) worst = err;
  }
  return worst;
}
