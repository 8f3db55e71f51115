/**
 * Seeded randomness for everything in mixhead that must be reproducible (data order, mixup draws).
 *
 * Generator: xoshiro128** (Blackman & Vigna, "Scrambled linear pseudorandom number generators",
 * 2021): 128 bits of state, period 2^128 − 1, passes BigCrush, and needs only 32-bit integer ops,
 * which JavaScript does exactly with `Math.imul` and `>>>`. `Math.random` cannot be seeded, so it is
 * never used.
 *
 * Seeding: a seed is a safe integer split into two 32-bit words (lo, hi) — the *key*. The four state
 * words come from two splitmix32 sequences (one from lo, one from hi) xored together; splitmix32
 * spreads nearby seeds (0, 1, 2, …) over unrelated states, which xoshiro itself would not.
 *
 * Streams: `fork(label)` derives a child whose key is a hash of (parent key, label). It depends on
 * the parent's key only, never on how many numbers the parent has drawn, so `rng.fork('data')` and
 * `rng.fork('mixup')` are independent streams that do not disturb each other: drawing more mixup
 * numbers never changes the data order. The same label forked twice gives the same stream.
 */

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/** splitmix32 step (the 32-bit finaliser of hash-prospector's lowbias32 on a Weyl sequence). */
function splitmix32(state: { x: number }): number {
  state.x = (state.x + 0x9e3779b9) | 0;
  let z = state.x;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}

/** FNV-1a over UTF-16 code units, from a chosen offset basis (two bases give two independent words). */
function fnv1a(text: string, basis: number): number {
  let h = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A seeded pseudo-random number generator (xoshiro128**), with the distributions mixup needs. */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  /** The key this stream was built from; `fork` hashes it, so forks ignore the draw position. */
  private keyLo: number;
  private keyHi: number;
  /** Second normal of the last polar-method pair (the method makes two at a time). */
  private spareNormal: number | null = null;

  /** @param seed a safe integer (negative allowed); equal seeds give identical streams. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new Error(`seed must be a safe integer (|seed| < 2^53), got ${seed}`);
    }
    // Two's complement split for negatives keeps −1 and 2^32 − 1 distinct via the hi word.
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    this.keyLo = lo;
    this.keyHi = hi;
    this.initState(lo, hi);
  }

  private static fromKey(lo: number, hi: number): Rng {
    const rng = new Rng(0);
    rng.keyLo = lo >>> 0;
    rng.keyHi = hi >>> 0;
    rng.initState(rng.keyLo, rng.keyHi);
    return rng;
  }

  private initState(lo: number, hi: number): void {
    const a = { x: lo };
    const b = { x: hi ^ 0x6a09e667 };
    this.s0 = (splitmix32(a) ^ splitmix32(b)) >>> 0;
    this.s1 = (splitmix32(a) ^ splitmix32(b)) >>> 0;
    this.s2 = (splitmix32(a) ^ splitmix32(b)) >>> 0;
    this.s3 = (splitmix32(a) ^ splitmix32(b)) >>> 0;
    // The all-zero state is the one fixed point of xoshiro; astronomically unlikely, but cheap to rule out.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
    this.spareNormal = null;
  }

  /** Next raw 32-bit output, as an unsigned integer in [0, 2^32). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /**
   * out[i] = `value` when the i-th next raw draw is below `below` (an integer in [0, 2^32]), else 0:
   * exactly `out.length` calls of nextUint32, in one loop over local state. A dropout mask is the
   * most the host draws per step (64×512 units per mlp step); called one draw at a time the stream
   * cost ~27 ns per unit, mostly boxing results above 2^31.
   */
  fillBernoulli(out: Float32Array, below: number, value: number): Float32Array {
    let s0 = this.s0 | 0;
    let s1 = this.s1 | 0;
    let s2 = this.s2 | 0;
    let s3 = this.s3 | 0;
    for (let i = 0; i < out.length; i++) {
      const x = Math.imul(s1, 5);
      const result = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      out[i] = result < below ? value : 0;
    }
    this.s0 = s0 >>> 0;
    this.s1 = s1 >>> 0;
    this.s2 = s2 >>> 0;
    this.s3 = s3 >>> 0;
    return out;
  }

  /**
   * Uniform in [0, 1) with 53 random bits (a full double mantissa): (a·2^21 + b) / 2^53 from the top
   * 32 bits of one draw and the top 21 of the next. 32 bits would make U^(1/a) in the gamma boost
   * coarse for small shapes.
   */
  uniform(): number {
    const a = this.nextUint32();
    const b = this.nextUint32() >>> 11;
    return (a * 2097152 + b) / TWO_POW_53;
  }

  /**
   * Uniform integer in [0, n), unbiased: draws above the largest multiple of n below 2^32 are
   * rejected (fewer than one in two draws in the worst case, none for small n in practice).
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new Error(`int(n) needs an integer n in [1, 2^32], got ${n}`);
    }
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const r = this.nextUint32();
      if (r < limit) return r % n;
    }
  }

  /** Standard normal N(0, 1), by Marsaglia's polar method (no trig; two normals per accepted pair). */
  normal(): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return z;
    }
    for (;;) {
      const u = 2 * this.uniform() - 1;
      const v = 2 * this.uniform() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const f = Math.sqrt((-2 * Math.log(s)) / s);
        this.spareNormal = v * f;
        return u * f;
      }
    }
  }

  /**
   * Gamma(shape, scale 1): density x^(a−1)·e^(−x)/Γ(a), mean a, variance a.
   *
   * a ≥ 1: Marsaglia & Tsang (2000). With d = a − 1/3, c = 1/√(9d), draw x ~ N(0,1), v = (1 + c·x)³;
   * accept d·v when v > 0 and ln U < x²/2 + d − d·v + d·ln v (a squeeze U < 1 − 0.0331·x⁴ accepts most
   * draws without the logs).
   * a < 1: the boost Gamma(a) = Gamma(a + 1)·U^(1/a) (same paper, §6).
   *
   * For very small shapes U^(1/a) underflows to 0; `beta` therefore works with `logGamma` instead.
   */
  gamma(shape: number): number {
    return Math.exp(this.logGamma(shape));
  }

  /** ln of a Gamma(shape, 1) draw; finite even where the draw itself underflows (shape ≪ 1). */
  logGamma(shape: number): number {
    if (!(shape > 0) || !Number.isFinite(shape)) {
      throw new Error(`gamma shape must be a finite number > 0, got ${shape}`);
    }
    if (shape < 1) {
      // ln(G·U^(1/a)) = ln G + ln(U)/a; 1 − U lies in (0, 1], so the log is finite.
      const g = this.marsagliaTsang(shape + 1);
      return Math.log(g) + Math.log(1 - this.uniform()) / shape;
    }
    return Math.log(this.marsagliaTsang(shape));
  }

  private marsagliaTsang(a: number): number {
    const d = a - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - this.uniform(); // (0, 1]: keeps ln u finite
      const x2 = x * x;
      if (u < 1 - 0.0331 * x2 * x2) return d * v;
      if (Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /**
   * Beta(a, b) = G₁/(G₁ + G₂) with G₁ ~ Gamma(a, 1), G₂ ~ Gamma(b, 1) (both scale 1: a common bug
   * uses rate a and leaves [0, 1]). Computed as 1/(1 + exp(ln G₂ − ln G₁)), which stays in [0, 1] and
   * never divides 0 by 0 when both gammas underflow for tiny shapes.
   */
  beta(a: number, b: number): number {
    const l1 = this.logGamma(a);
    const l2 = this.logGamma(b);
    return 1 / (1 + Math.exp(l2 - l1));
  }

  /** A uniformly random permutation of 0..n−1 (Fisher–Yates, from the end). */
  permutation(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0) throw new Error(`permutation(n) needs an integer n ≥ 0, got ${n}`);
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /** Shuffles in place (Fisher–Yates: swap position i with a uniform j ≤ i) and returns the array. */
  shuffle<T extends { length: number; [index: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /**
   * An independent stream named by `label`, derived from this stream's key only (not its position):
   * `new Rng(s).fork('mixup')` is the same stream whenever and however often it is made.
   */
  fork(label: string): Rng {
    // Two FNV-1a words of the label (different offset bases), each folded with one key word.
    const lo = splitmix32({ x: this.keyLo ^ fnv1a(label, 0x811c9dc5) });
    const hi = splitmix32({ x: this.keyHi ^ fnv1a(label, 0x050c5d1f) ^ 0x5bd1e995 });
    return Rng.fromKey(lo, hi);
  }
}
