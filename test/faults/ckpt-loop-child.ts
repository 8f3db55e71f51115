/**
 * Writes checkpoint after checkpoint of 4 MB weights into DIR as fast as it can: checkpoint n holds
 * state {n} and weights all equal to n, so a reader can tell a whole checkpoint from a mix of two.
 * Prints "saved n" after each. The parent kills it with SIGKILL at random moments (mostly mid-write).
 *   node --import tsx test/faults/ckpt-loop-child.ts DIR
 */
import * as tf from '@tensorflow/tfjs';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';

await tf.setBackend('cpu');
const dir = process.argv[2]!;
const a = tf.variable(tf.zeros([1000, 1000]));
const b = tf.variable(tf.zeros([1000]));
const vars = [a, b].map((v) => ({ name: v.name, shape: v.shape, read: () => v, write: (t: tf.Tensor) => v.assign(t) })) as unknown as tf.LayerVariable[];
const prev = await loadCheckpoint<{ n: number }>(dir, 'last');
for (let n = (prev?.state.n ?? 0) + 1; ; n++) {
  a.assign(tf.fill([1000, 1000], n));
  b.assign(tf.fill([1000], n));
  await saveCheckpoint(dir, 'last', { n }, vars, null);
  process.stdout.write(`saved ${n}\n`);
}
