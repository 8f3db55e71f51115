/**
 * Moves a head's weights and its optimizer's state between TF.js (the layers that export, and the
 * optimizer whose `getWeights` checkpoints save) and the ONNX step's host buffers. Because the ONNX
 * step applies tfjs's own update formulas to the same state, a checkpoint written by either engine
 * resumes on the other (docs/architecture.md, "Training engines").
 */
import * as tf from '@tensorflow/tfjs';
import type { OnnxHeadSession } from './session.js';

interface AdamInternals {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
}
interface MomentumInternals {
  accumulations: { originalName: string; variable: tf.Variable }[];
}

function isAdam(opt: tf.Optimizer): boolean {
  return 'accBeta1' in (opt as object);
}

/** Copies the TF.js weights and optimizer state into the session's current buffers. */
export async function loadFromTfjs(session: OnnxHeadSession, variables: tf.LayerVariable[], opt: tf.Optimizer): Promise<void> {
  if (variables.length !== session.params.length) throw new Error(`the head has ${variables.length} weights; the ONNX step expects ${session.params.length}`);
  variables.forEach((v, i) => {
    const data = v.read().dataSync() as Float32Array;
    if (data.length !== session.params[i].length) throw new Error(`weight ${v.name}: ${data.length} values; the ONNX step expects ${session.params[i].length}`);
    session.params[i].set(data);
  });
  const named = await opt.getWeights();
  const slots = named.filter((w) => w.name !== 'iter');
  const iter = named.find((w) => w.name === 'iter');
  session.counters.iterations = iter ? (iter.tensor.dataSync()[0] as number) : 0;
  // A fresh optimizer has no slots yet (tfjs makes them at the first step): they are zeros.
  const n = session.params.length;
  if (slots.length && slots.length !== session.slots.length * n) throw new Error(`the optimizer holds ${slots.length} slots; the ONNX step expects ${session.slots.length * n}`);
  session.slots.forEach((set, j) => set.forEach((buf, i) => (slots.length ? buf.set(slots[j * n + i].tensor.dataSync() as Float32Array) : buf.fill(0))));
  if (iter) iter.tensor.dispose();
  // β powers as the float32 running products tfjs's Adam keeps during a run (accBeta ← accBeta·β, from
  // β), recomputed from the step count: after a resume tfjs's setWeights uses pow() instead, which may
  // differ in the last bit, and a resumed run must equal an uninterrupted one.
  if (isAdam(opt)) {
    const o = opt as unknown as { beta1: number; beta2: number };
    session.counters.accBeta1 = runningPower(o.beta1, session.counters.iterations);
    session.counters.accBeta2 = runningPower(o.beta2, session.counters.iterations);
  }
}

/** β^(t+1) as t float32 multiplications of fround(β). */
export function runningPower(beta: number, t: number): number {
  const b = Math.fround(beta);
  let acc = b;
  for (let i = 0; i < t; i++) acc = Math.fround(acc * b);
  return acc;
}

/** Writes the session's current weights and optimizer state into the TF.js variables and optimizer. */
export async function storeToTfjs(session: OnnxHeadSession, variables: tf.LayerVariable[], opt: tf.Optimizer): Promise<void> {
  variables.forEach((v, i) =>
    tf.tidy(() => {
      v.write(tf.tensor(session.params[i], v.shape as number[]));
    }),
  );
  const names = variables.map((v) => (v.read() as tf.Variable).name);
  const suffixes = isAdam(opt) ? ['m', 'v'] : ['momentum'];
  const fresh = session.slots.flatMap((s, j) => s.map((buf, i) => ({ name: `${names[i]}/${suffixes[j]}`, tensor: tf.tensor(buf, variables[i].shape as number[]) })));
  // setWeights replaces the slot variables without freeing the old ones: free them first.
  if (isAdam(opt)) {
    const a = opt as unknown as AdamInternals;
    tf.dispose([...a.accumulatedFirstMoment, ...a.accumulatedSecondMoment].map((s) => s.variable));
  } else {
    tf.dispose((opt as unknown as MomentumInternals).accumulations.map((s) => s.variable));
  }
  const iter = tf.scalar(session.counters.iterations, 'int32');
  await opt.setWeights([{ name: 'iter', tensor: iter }, ...fresh]);
  tf.dispose([iter, ...fresh.map((f) => f.tensor)]);
  if (isAdam(opt)) {
    // setWeights recomputes β powers with pow(); keep the running products the steps used.
    const a = opt as unknown as AdamInternals;
    tf.tidy(() => {
      a.accBeta1.assign(tf.scalar(session.counters.accBeta1));
      a.accBeta2.assign(tf.scalar(session.counters.accBeta2));
    });
  }
}
