// The ONNX training step agrees with TF.js autodiff and tfjs's optimizers, step by step from identical
// states, for every head × mix point × loss × optimizer, with dropout and weight decay.
//
// Tolerance: each engine rounds to float32 (ε = 1.2e-7) in its own order (GEMM summation, the conv
// head's M·(X·W₁) vs (M·X)·W₁, the mix after pooling), so gradients differ by a few ulps of their
// terms. The loss, SGD's weights and velocities, and Adam's moments are linear in the gradient: they
// must agree to 2e-6·(1 + |value|) (measured worst 1.5e-7). Adam moves each weight by
// lr·m̂/(√v̂ + ε) ≈ ±lr on its first steps whatever |g|, so rounding in a near-zero gradient is
// magnified up to a flipped move (2·lr): weights are compared relative to lr, within 2e-4·lr
// (measured worst 1.3e-5·lr), except weights whose gradient is below 1e-4 of the largest, which may
// differ by up to 2·lr but at most 2% of them by more than 1e-3·lr (measured: none).
// `SHOW_AGREEMENT=1` prints each case's worst values.
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/random.js';
import { Mixer, mixingMatrix, type MixPlan } from '../../src/mixup/index.js';
import { buildHead, disposeHead, type Head, type HeadType } from '../../src/train/heads.js';
import { batchLoss } from '../../src/train/losses.js';
import { setLearningRate } from '../../src/train/trainer.js';
import { OnnxHeadSession } from '../../src/train/onnx/session.js';
import { loadFromTfjs, storeToTfjs } from '../../src/train/onnx/tfjs-state.js';
import type { HeadSpec, OptimizerSpec } from '../../src/train/onnx/step.js';

const H = 2, W = 2, C = 24, K = 5, B = 8, HIDDEN = 12;
const sessions: OnnxHeadSession[] = [];
afterAll(async () => {
  for (const s of sessions) await s.close();
});

interface Case {
  head: HeadType;
  /** Which tap mixes: 0 features, 1 hidden. */
  tap: 0 | 1;
  loss: 'stack' | 'blend' | 'bce';
  optimizer: 'adam' | 'adamw' | 'sgd';
  dropout: number;
  pooled: boolean;
}

function specOf(c: Case, head: Head): { spec: HeadSpec; opt: OptimizerSpec; wd: number } {
  const adam = c.optimizer !== 'sgd';
  const tfOpt = tf.train.adam(0.01);
  const eps = (tfOpt as unknown as { epsilon: number }).epsilon;
  tfOpt.dispose();
  return {
    spec: { type: c.head, channels: C, cells: H * W, hidden: HIDDEN, classes: K, dropout: c.dropout > 0, multiLabel: c.loss === 'bce', pooled: head.pooled },
    opt: { name: adam ? 'adam' : 'sgd', beta1: 0.9, beta2: 0.999, epsilon: eps, momentum: 0.9, weightDecay: c.optimizer === 'adamw' },
    wd: c.optimizer === 'adamw' ? 0.05 : 0,
  };
}

/** Runs `steps` steps on both engines from identical states; returns the worst disagreements. */
async function compare(c: Case, steps = 3, perturb?: (s: OnnxHeadSession) => void) {
  const rng = new Rng(11);
  const head = buildHead({ type: c.head, featureShape: [H, W, C], numClasses: K, hidden: HIDDEN, dropout: c.dropout, multiLabel: c.loss === 'bce', poolFirst: c.pooled, seed: 3 });
  const { spec, opt: ospec, wd } = specOf(c, head);
  const opt = ospec.name === 'adam' ? tf.train.adam(0.01) : tf.train.momentum(0.01, 0.9);
  const session = await OnnxHeadSession.create(spec, ospec, 1);
  sessions.push(session);
  const mixer = new Mixer({ alpha: 0.4, labelSmoothing: c.loss === 'bce' ? 0 : 0.1, seed: 5 }, Array.from({ length: K }, (_, i) => `c${i}`));
  const dropoutLayer = c.dropout > 0 ? head.train.getLayer('dropout') : null;
  const vars = head.train.trainableWeights.map((v) => v.read() as tf.Variable);
  const rowSize = head.pooled ? C : H * W * C;
  let worst = { sgdOrMoment: 0, weightVsLr: 0, flipped: 0, total: 0, loss: 0 };
  for (let step = 0; step < steps; step++) {
    const lr = 0.01 * (1 + step);
    const x = Float32Array.from({ length: B * rowSize }, () => rng.normal());
    const labels = Int32Array.from({ length: B }, () => rng.int(K));
    const targets = new Float32Array(B * K);
    labels.forEach((l, i) => {
      targets[i * K + l] = 1;
      if (c.loss === 'bce') targets[i * K + ((l + 2) % K)] = 1;
    });
    const plan: MixPlan = mixer.plan(labels, 0);
    expect(plan.mode).toBe('mixup');
    const M = mixingMatrix(plan.lam, plan.partner);
    const width = c.head === 'linear' ? C : HIDDEN;
    const keep = 1 - c.dropout;
    const mask = c.dropout > 0 ? Float32Array.from({ length: B * width }, () => (rng.uniform() < keep ? 1 / keep : 0)) : null;

    // Identical states: ONNX starts from what TF.js holds now.
    await loadFromTfjs(session, head.train.trainableWeights, opt);
    perturb?.(session);
    const onnxLoss = await session.step({
      x,
      n: B,
      mix: { tap: c.tap, matrix: M },
      mask,
      targets: mixer.applyToTargets(plan, targets),
      lr,
      decay: Math.fround(1 - lr * wd),
    });

    // TF.js: the trainer's own step (features mix on the host rows, hidden mix in the FeatureTap).
    for (const tap of head.taps) tap.attachMixer({ mixMatrix: (_b, name) => (c.tap === 1 && name === head.taps[1].name ? M : null) });
    if (dropoutLayer) (dropoutLayer as unknown as { call: (i: tf.Tensor | tf.Tensor[]) => tf.Tensor }).call = (i) => tf.mul(Array.isArray(i) ? i[0] : i, tf.tensor2d(mask!, [B, width]));
    const rows = c.tap === 0 ? mixer.applyToRows(plan, x, head.pooled ? [C] : [H, W, C]) : x;
    setLearningRate(opt, lr);
    const tfLoss = tf.tidy(() => {
      const input = tf.tensor(rows, head.pooled ? [B, C] : [B, H, W, C]);
      const lossFn = () =>
        batchLoss(head.train.apply(input, { training: true }) as tf.Tensor, { targets, k: K, multiLabel: c.loss === 'bce', labelMode: c.loss === 'stack' ? 'stack' : 'blend', labelSmoothing: mixer.options.labelSmoothing, plan, mixer });
      return opt.minimize(lossFn, true, vars)!.dataSync()[0];
    });
    if (wd > 0) {
      // The trainer's weightDecay callback.
      tf.tidy(() => {
        for (const v of head.train.trainableWeights) if (v.name.includes('kernel')) (v.read() as tf.Variable).assign(tf.mul(v.read(), 1 - lr * wd));
      });
    }
    worst.loss = Math.max(worst.loss, Math.abs(onnxLoss - tfLoss) / (1 + Math.abs(tfLoss)));

    const tfState = await opt.getWeights();
    const slots = tfState.filter((s) => s.name !== 'iter').map((s) => s.tensor.dataSync() as Float32Array);
    tf.dispose(tfState.filter((s) => s.name === 'iter').map((s) => s.tensor));
    const n = vars.length;
    session.slots.forEach((set, j) =>
      set.forEach((buf, i) => {
        for (let e = 0; e < buf.length; e++) worst.sgdOrMoment = Math.max(worst.sgdOrMoment, Math.abs(buf[e] - slots[j * n + i][e]) / (1 + Math.abs(slots[j * n + i][e])));
      }),
    );
    vars.forEach((v, i) => {
      const w = v.dataSync() as Float32Array;
      const g = ospec.name === 'adam' ? slots[i] : null; // Adam's m after the first step is (1−β₁)·g
      const gmax = g ? g.reduce((m, e) => Math.max(m, Math.abs(e)), 0) : 0;
      for (let e = 0; e < w.length; e++) {
        const d = Math.abs(session.params[i][e] - w[e]);
        if (ospec.name === 'sgd') {
          worst.sgdOrMoment = Math.max(worst.sgdOrMoment, d / (1 + Math.abs(w[e])));
          continue;
        }
        worst.total++;
        if (g && Math.abs(g[e]) < 1e-4 * gmax) {
          if (d > 1e-3 * lr) worst.flipped++;
          expect(d).toBeLessThanOrEqual(2.01 * lr);
        } else {
          worst.weightVsLr = Math.max(worst.weightVsLr, d / lr);
        }
      }
    });
  }
  for (const tap of head.taps) tap.attachMixer(null);
  opt.dispose();
  // MomentumOptimizer.dispose (tfjs-core 4.22) forgets its SGD parent's lr scalar `c`.
  (opt as unknown as { c?: tf.Tensor }).c?.dispose();
  disposeHead(head);
  if (process.env.SHOW_AGREEMENT) console.log(JSON.stringify({ ...c, ...worst }));
  return worst;
}

function expectAgree(w: Awaited<ReturnType<typeof compare>>) {
  expect(w.loss).toBeLessThan(2e-6);
  expect(w.sgdOrMoment).toBeLessThan(2e-6);
  expect(w.weightVsLr).toBeLessThan(2e-4);
  expect(w.flipped).toBeLessThanOrEqual(Math.ceil(0.02 * w.total));
}

const cases: Case[] = [];
for (const head of ['linear', 'mlp', 'conv'] as const) {
  for (const tap of head === 'linear' ? ([0] as const) : ([0, 1] as const)) {
    for (const loss of ['stack', 'blend', 'bce'] as const) {
      for (const optimizer of ['adam', 'adamw', 'sgd'] as const) {
        cases.push({ head, tap, loss, optimizer, dropout: head === 'linear' ? 0 : 0.3, pooled: true });
      }
    }
  }
}
// Dropout on the linear head, and heads that pool inside the graph (poolFirst off).
cases.push({ head: 'linear', tap: 0, loss: 'blend', optimizer: 'adamw', dropout: 0.25, pooled: true });
cases.push({ head: 'linear', tap: 0, loss: 'stack', optimizer: 'adam', dropout: 0, pooled: false });
cases.push({ head: 'mlp', tap: 1, loss: 'stack', optimizer: 'sgd', dropout: 0.3, pooled: false });
cases.push({ head: 'mlp', tap: 0, loss: 'bce', optimizer: 'adamw', dropout: 0.3, pooled: false });

describe('ONNX training step vs TF.js autodiff', () => {
  it.each(cases)('$head head, mix at tap $tap, $loss loss, $optimizer, dropout $dropout, pooled $pooled', async (c) => {
    const before = tf.memory().numTensors;
    expectAgree(await compare(c));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('fails when a formula is off (the test can fail)', async () => {
    // One ulp-scale nudge is invisible; a 1% error in a bias correction is not.
    const c: Case = { head: 'mlp', tap: 1, loss: 'stack', optimizer: 'adam', dropout: 0.3, pooled: true };
    const off = await compare(c, 3, (s) => {
      s.counters.accBeta2 = Math.fround(s.counters.accBeta2 * 0.99);
    });
    expect(() => expectAgree(off)).toThrow();
    const sgd = await compare({ ...c, optimizer: 'sgd' }, 2, (s) => {
      s.params[0][0] += 1e-3;
    });
    expect(() => expectAgree(sgd)).toThrow();
  });
});
