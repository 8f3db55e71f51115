/**
 * Mixing rows of a batch: the arithmetic of mixup (Zhang et al., 2018) on inputs or cached
 * features, and of manifold mixup (Verma et al., 2019) on hidden activations.
 *
 *   x̃ᵢ = λᵢ·xᵢ + (1 − λᵢ)·x_π(i)
 *
 * Two forms of the same map: `mixRows` on host typed arrays (fast, no tensors; docs/architecture.md,
 * "Mixup semantics", records a TF.js `gather` of a 64×7×7×1280 batch at 205 ms on wasm), and
 * `mixingMatrix`, the B×B matrix M with X̃ = M·X, for mixing inside a model with one MatMul (wasm
 * has a MatMul gradient, not a gather one).
 */

export type FloatArray = Float32Array | Float64Array;

function checkPlan(lam: ArrayLike<number>, partner: Int32Array): number {
  const b = lam.length;
  if (partner.length !== b) throw new Error(`lam has ${b} entries but partner has ${partner.length}`);
  for (let i = 0; i < b; i++) {
    const p = partner[i];
    if (!(p >= 0 && p < b)) throw new Error(`partner[${i}] = ${p} is outside the batch [0, ${b})`);
  }
  return b;
}

/** True when two typed arrays share any bytes. */
export function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.buffer !== b.buffer) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/**
 * x̃ᵢ = λᵢ·xᵢ + (1 − λᵢ)·x_π(i) for B rows of `rowSize` values (B = lam.length). Rows with
 * π(i) = i or λᵢ = 1 are copied exactly. `out` (default a new Float32Array) must not share memory
 * with `x`, since partners read rows that may already have been written.
 */
export function mixRows(x: FloatArray, rowSize: number, lam: ArrayLike<number>, partner: Int32Array): Float32Array;
export function mixRows<T extends FloatArray>(
  x: FloatArray,
  rowSize: number,
  lam: ArrayLike<number>,
  partner: Int32Array,
  out: T,
): T;
export function mixRows(
  x: FloatArray,
  rowSize: number,
  lam: ArrayLike<number>,
  partner: Int32Array,
  out?: FloatArray,
): FloatArray {
  const b = checkPlan(lam, partner);
  if (!Number.isInteger(rowSize) || rowSize < 0) throw new Error(`rowSize must be an integer ≥ 0, got ${rowSize}`);
  if (x.length !== b * rowSize) {
    throw new Error(`x has ${x.length} values; ${b} rows of ${rowSize} need ${b * rowSize}`);
  }
  const result = out ?? new Float32Array(x.length);
  if (result.length !== x.length) throw new Error(`out has ${result.length} values, x has ${x.length}`);
  if (overlaps(result, x)) throw new Error('mixRows: out must not share memory with x');
  for (let i = 0; i < b; i++) {
    const l = lam[i];
    const p = partner[i];
    const a = i * rowSize;
    if (p === i || l === 1) {
      result.set(x.subarray(a, a + rowSize), a);
      continue;
    }
    const c = p * rowSize;
    const m = 1 - l;
    for (let k = 0; k < rowSize; k++) result[a + k] = l * x[a + k] + m * x[c + k];
  }
  return result;
}

/**
 * The B×B row-major matrix M with X̃ = M·X: M[i][i] += λᵢ, M[i][π(i)] += 1 − λᵢ (so a row with
 * π(i) = i is the identity row). Each row sums to 1.
 */
export function mixingMatrix(lam: ArrayLike<number>, partner: Int32Array): Float32Array {
  const b = checkPlan(lam, partner);
  const m = new Float32Array(b * b);
  for (let i = 0; i < b; i++) {
    m[i * b + i] += lam[i];
    m[i * b + partner[i]] += 1 - lam[i];
  }
  return m;
}
