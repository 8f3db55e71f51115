/**
 * A faster MatMul with transposed operands for the wasm backend.
 *
 * tfjs-backend-wasm 4.22 sends a MatMul to XNNPACK only when neither operand is transposed; with
 * `transposeA` or `transposeB` it falls back to a scalar triple loop (batch_mat_mul_impl.cc). Every
 * dense-layer gradient is such a product (dW = xᵀ·dy, dx = dy·Wᵀ), so training an mlp or conv head
 * ran at ~0.15 GFLOP/s instead of ~5. This wrapper transposes the operand explicitly (a fast
 * kernel) and then calls the stock kernel without transposes, which takes the XNNPACK path. Same
 * arithmetic, different order of summation: results agree to float32 rounding (tested).
 */
import * as tf from '@tensorflow/tfjs';

type KernelArgs = { inputs: Record<string, tf.TensorInfo>; backend: tf.KernelBackend; attrs: Record<string, unknown> };
type KernelFn = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

let installed = false;

function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return perm;
}

/** Replaces the wasm BatchMatMul and _FusedMatMul kernels with the transposing wrappers (idempotent). */
export function installFastTransposedMatMul(): boolean {
  if (installed) return true;
  let transpose: KernelFn;
  try {
    transpose = tf.getKernel('Transpose', 'wasm').kernelFunc as unknown as KernelFn;
  } catch {
    return false;
  }
  if (!transpose) return false;
  for (const name of ['BatchMatMul', '_FusedMatMul']) {
    const config = tf.getKernel(name, 'wasm');
    if (!config) continue;
    const original = config.kernelFunc as unknown as KernelFn;
    const wrapped: KernelFn = (args) => {
      const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
      if (!transposeA && !transposeB) return original(args);
      const made: tf.TensorInfo[] = [];
      const flip = (t: tf.TensorInfo) => {
        const out = transpose({ inputs: { x: t }, backend: args.backend, attrs: { perm: swapLastTwo(t.shape.length) } }) as tf.TensorInfo;
        made.push(out);
        return out;
      };
      const inputs = { ...args.inputs, a: transposeA ? flip(args.inputs.a) : args.inputs.a, b: transposeB ? flip(args.inputs.b) : args.inputs.b };
      try {
        return original({ ...args, inputs, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
      } finally {
        for (const t of made) args.backend.disposeData(t.dataId);
      }
    };
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...config, kernelFunc: wrapped as unknown as tf.KernelFunc });
  }
  installed = true;
  return true;
}
