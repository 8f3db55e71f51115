import { tempDir } from '../tmp.js';
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/tfjs/backend.js';
import { synthetic } from '../fixtures/synthetic.js';
import { trainHead, predictSet, setLearningRate, TrainingDivergedError, type TrainArgs } from '../../src/train/trainer.js';
import { HEAD_TYPES, disposeHead } from '../../src/train/heads.js';

function weightsOf(r: Awaited<ReturnType<typeof trainHead>>): Float32Array[] {
  return r.head.train.trainableWeights.map((v) => v.read().dataSync() as Float32Array);
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let d = 0;
  a.forEach((x, i) => x.forEach((v, j) => (d = Math.max(d, Math.abs(v - b[i][j])))));
  return d;
}

// Every behaviour below holds on both training engines (src/train/engines.ts).
describe.each(['onnx', 'tfjs'] as const)('trainHead on the %s engine', (trainEngine) => {
  const quick: TrainArgs = { epochs: 6, batchSize: 16, lr: 0.05, seed: 3, trainEngine };
  // The TF.js backends matter to the tfjs engine only.
  for (const backend of trainEngine === 'tfjs' ? ['wasm', 'cpu'] : ['wasm']) {
    for (const head of HEAD_TYPES) {
      it(`trains the ${head} head (TF.js backend ${backend}) with feature mixup, tensors flat across epochs`, async () => {
        await selectBackend({ force: backend });
        const train = synthetic(48);
        const valid = synthetic(30, undefined, undefined, 9);
        const counts: number[] = [];
        const r = await trainHead(train, valid, { ...quick, head, mixup: { alpha: 0.4 }, onEpoch: (e) => counts.push(e.numTensors) });
        expect(r.history).toHaveLength(6);
        expect(r.history.every((e) => Number.isFinite(e.mixedLoss) && Number.isFinite(e.cleanLoss))).toBe(true);
        // Far below the loss of a uniform guess, ln 3.
        expect(r.history[5].cleanLoss).toBeLessThan(0.5 * Math.log(3));
        expect(r.best?.kind === 'single' && r.best.accuracy).toBeGreaterThan(0.9);
        // Every epoch ends with the same number of live tensors: nothing leaks per batch or epoch.
        expect(new Set(counts.slice(1)).size).toBe(1);
        expect(counts[1]).toBe(counts[0]);
        disposeHead(r.head);
        await selectBackend({ force: 'wasm' });
      });
    }
  }

  it('pooling first gives the same training as mixing the full maps (mixing commutes with pooling)', async () => {
    const train = synthetic(40);
    const a = await trainHead(train, null, { ...quick, head: 'linear', mixup: { alpha: 1 }, poolFirst: true });
    const b = await trainHead(train, null, { ...quick, head: 'linear', mixup: { alpha: 1 }, poolFirst: false });
    expect(a.head.pooled).toBe(true);
    expect(b.head.pooled).toBe(false);
    expect(maxDiff(weightsOf(a), weightsOf(b))).toBeLessThan(1e-4);
  });

  it('stack and blend labels train identically under softmax cross-entropy', async () => {
    const train = synthetic(40);
    const a = await trainHead(train, null, { ...quick, labels: 'stack', mixup: { alpha: 0.4, labelSmoothing: 0.1 } });
    const b = await trainHead(train, null, { ...quick, labels: 'blend', mixup: { alpha: 0.4, labelSmoothing: 0.1 } });
    expect(maxDiff(weightsOf(a), weightsOf(b))).toBeLessThan(1e-4);
    a.history.forEach((e, i) => expect(e.mixedLoss).toBeCloseTo(b.history[i].mixedLoss, 4));
  });

  it('α = 0 and α > 0 differ (the mix reaches the loss), and mixed loss is reported beside the clean one', async () => {
    const train = synthetic(40);
    const a = await trainHead(train, null, { ...quick, mixup: { alpha: 0 } });
    const b = await trainHead(train, null, { ...quick, mixup: { alpha: 1 } });
    expect(maxDiff(weightsOf(a), weightsOf(b))).toBeGreaterThan(1e-3);
    expect(b.history[5].mixedLoss).toBeGreaterThan(b.history[5].cleanLoss);
    expect(a.lambdaHistogram.reduce((x, y) => x + y, 0)).toBe(40 * 6);
  });

  it('manifold mixup at hidden layers trains every head; evaluation is never mixed', async () => {
    for (const head of HEAD_TYPES) {
      const train = synthetic(48);
      const r = await trainHead(train, null, { ...quick, head, mixAt: 'hidden', mixup: { alpha: 2 } });
      expect(r.best?.kind === 'single' && r.best.accuracy).toBeGreaterThan(0.8);
      const p1 = predictSet(r.head, train);
      const p2 = predictSet(r.head, train);
      expect(p1).toEqual(p2);
    }
  });

  it('CutMix on the maps trains (on full maps, not pooled)', async () => {
    const train = synthetic(48);
    const r = await trainHead(train, null, { ...quick, head: 'linear', mixup: { alpha: 0, cutmixAlpha: 1 } });
    expect(r.head.pooled).toBe(false);
    expect(r.history.every((e) => Number.isFinite(e.mixedLoss))).toBe(true);
  });

  it('multi-label data trains with blended targets and reports F1 and mAP', async () => {
    const train = synthetic(60, undefined, undefined, 4, true);
    const r = await trainHead(train, null, { ...quick, epochs: 10, mixup: { alpha: 0.4 } });
    expect(r.best?.kind).toBe('multi');
    if (r.best?.kind === 'multi') expect(r.best.mAP).toBeGreaterThan(0.8);
    await expect(trainHead(train, null, { ...quick, labels: 'stack' })).rejects.toThrow(/blend/);
  });

  it('resuming from the last checkpoint ends where an uninterrupted run ends', async () => {
    const train = synthetic(40);
    const valid = synthetic(20, undefined, undefined, 7);
    const outA = await tempDir('ck');
    const outB = await tempDir('ck');
    const args: TrainArgs = { ...quick, head: 'mlp', optimizer: 'adam', mixup: { alpha: 0.4 }, checkpointEvery: 0 };
    const full = await trainHead(train, valid, { ...args, epochs: 4, out: outA });
    // Stop after 2 of 4 epochs (as a kill would), then resume.
    let epochsSeen = 0;
    await expect(
      trainHead(train, valid, {
        ...args,
        epochs: 4,
        out: outB,
        onEpoch: () => {
          if (++epochsSeen === 2) throw new Error('killed after epoch 2');
        },
      }),
    ).rejects.toThrow(/killed/);
    const resumed = await trainHead(train, valid, { ...args, epochs: 4, out: outB, resume: true });
    expect(resumed.resumedFrom).toBe(2);
    expect(resumed.history).toHaveLength(4);
    resumed.history.forEach((e, i) => expect(e.mixedLoss).toBeCloseTo(full.history[i].mixedLoss, 4));
  });

  it('a diverging loss stops with a clear error and frees the head it built', async () => {
    const train = synthetic(32);
    const before = tf.memory().numTensors;
    await expect(trainHead(train, null, { ...quick, lr: 1e38, optimizer: 'sgd' })).rejects.toThrow(TrainingDivergedError);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the schedule reaches every optimizer: an SGD step moves by the rate set, not the rate it was made with', () => {
    for (const opt of [tf.train.sgd(1), tf.train.momentum(1, 0.9), tf.train.adam(1)]) {
      const w = tf.variable(tf.scalar(0));
      setLearningRate(opt, 0.1);
      tf.tidy(() => opt.minimize(() => tf.mul(w, 1) as tf.Scalar, false, [w]));
      // Gradient 1: SGD and momentum (first step) move by −lr; Adam's first step is −lr·sign(g).
      expect(w.dataSync()[0]).toBeCloseTo(-0.1, 5);
      w.dispose();
      opt.dispose();
    }
  });

  it('early stopping ends the run when the metric stops improving', async () => {
    const train = synthetic(32);
    const r = await trainHead(train, synthetic(12, undefined, undefined, 5), { ...quick, epochs: 20, lr: 1e-9, patience: 2 });
    expect(r.stoppedEarly).toBe(true);
    expect(r.history.length).toBeLessThan(20);
  });

  it('rejects bad options naming the field and the allowed values', async () => {
    const train = synthetic(8);
    await expect(trainHead(train, null, { head: 'resnet' as never })).rejects.toThrow(/linear, mlp, conv/);
    await expect(trainHead(train, null, { mixAt: 'output' as never })).rejects.toThrow(/features, hidden, input/);
    await expect(trainHead(train, null, { batchSize: 0 })).rejects.toThrow(/batchSize/);
    await expect(trainHead(train, null, { mixup: { alpha: -1 } })).rejects.toThrow(/alpha/);
  });

  it('leaves no tensors behind once the head is disposed', async () => {
    const before = tf.memory().numTensors;
    const r = await trainHead(synthetic(16), null, { ...quick, epochs: 2, head: 'conv', mixAt: 'hidden' });
    disposeHead(r.head);
    expect(tf.memory().numTensors).toBe(before);
  });
});
