import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/tfjs/backend.js';
import { installFastTransposedMatMul } from '../../src/tfjs/wasm-matmul.js';

/** Plain float64 A·B for row-major matrices. */
function reference(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
    out[i * n + j] = s;
  }
  return out;
}

describe('wasm MatMul with transposed operands', () => {
  it('is installed with the wasm backend and matches a float64 product for every transpose combination', async () => {
    await selectBackend({ force: 'wasm' });
    expect(installFastTransposedMatMul()).toBe(true);
    const [m, k, n] = [7, 33, 5];
    const a = tf.randomNormal([m, k], 0, 1, 'float32', 1);
    const b = tf.randomNormal([k, n], 0, 1, 'float32', 2);
    const want = reference(a.dataSync() as Float32Array, b.dataSync() as Float32Array, m, k, n);
    const before = tf.memory().numTensors;
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
      const got = tf.tidy(() => tf.matMul(ta ? a.transpose() : a, tb ? b.transpose() : b, ta, tb));
      const g = got.dataSync();
      got.dispose();
      for (let i = 0; i < g.length; i++) expect(g[i]).toBeCloseTo(want[i], 4);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b]);
  });

  it('gives dense-layer gradients equal to the cpu backend', async () => {
    const grads = async (backend: string) => {
      await selectBackend({ force: backend });
      return tf.tidy(() => {
        const x = tf.randomNormal([6, 9], 0, 1, 'float32', 3);
        const w = tf.variable(tf.randomNormal([9, 4], 0, 1, 'float32', 4));
        const g = tf.variableGrads(() => tf.sum(tf.relu(tf.matMul(x, w))) as tf.Scalar, [w]);
        const out = Array.from(g.grads[w.name].dataSync());
        w.dispose();
        return out;
      });
    };
    const cpu = await grads('cpu');
    const wasm = await grads('wasm');
    wasm.forEach((v, i) => expect(v).toBeCloseTo(cpu[i], 4));
  });
});
