// Which engine trains, what happens when ONNX Runtime does not load, and checkpoints that move between
// engines (src/train/engines.ts; docs/architecture.md, "Training engines").
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { synthetic } from '../fixtures/synthetic.js';
import { tempDir } from '../tmp.js';
import { trainHead, type TrainArgs } from '../../src/train/trainer.js';
import { buildHead, disposeHead } from '../../src/train/heads.js';
import { createTrainEngine, type EngineArgs } from '../../src/train/engines.js';
import type { Fit } from '../../src/train/callbacks.js';

const weights = (r: Awaited<ReturnType<typeof trainHead>>) => r.head.train.trainableWeights.map((v) => Array.from(v.read().dataSync()));
const maxDiff = (a: number[][], b: number[][]) => Math.max(...a.flatMap((x, i) => x.map((v, j) => Math.abs(v - b[i][j]))));

function engineArgs(): EngineArgs {
  const head = buildHead({ type: 'linear', featureShape: [3, 3, 8], numClasses: 3, seed: 1 });
  return { head, optimizer: tf.train.adam(0.01), optimizerName: 'adam', momentum: 0.9, weightDecay: 0, featureShape: [3, 3, 8], numClasses: 3, multiLabel: false, labelMode: 'stack', labelSmoothing: 0 };
}

describe('training engines', () => {
  it('trainEngine picks the engine, and the result names it', async () => {
    const train = synthetic(24);
    const lines: string[] = [];
    const onnx = await trainHead(train, null, { epochs: 1, lr: 0.01, trainEngine: 'onnx', log: (l) => lines.push(l) });
    const tfjs = await trainHead(train, null, { epochs: 1, lr: 0.01, trainEngine: 'tfjs' });
    const auto = await trainHead(train, null, { epochs: 1, lr: 0.01 });
    expect(onnx.engine).toMatch(/^onnx \(onnxruntime \d/);
    expect(tfjs.engine).toMatch(/^tfjs \(wasm\)/);
    // auto: onnx, since onnxruntime-node loads here.
    expect(auto.engine).toMatch(/^onnx/);
    expect(lines.some((l) => /^train engine: onnx/.test(l))).toBe(true);
    for (const r of [onnx, tfjs, auto]) disposeHead(r.head);
  });

  it('auto falls back to TF.js with a line saying why; onnx refuses with one line', async () => {
    const broken = async () => ({ error: 'libonnxruntime.so: cannot open shared object file' });
    const lines: string[] = [];
    const a = engineArgs();
    const auto = await createTrainEngine('auto', a, (l) => lines.push(l), broken);
    expect(auto.name).toBe('tfjs');
    expect(lines.join('\n')).toMatch(/onnxruntime-node does not load \(libonnxruntime\.so.*\); training on TF\.js/);
    await expect(createTrainEngine('onnx', a, undefined, broken)).rejects.toThrow(/train engine onnx: onnxruntime-node does not load.*--train-engine tfjs/);
    const ok = await createTrainEngine('auto', a);
    expect(ok.name).toBe('onnx');
    await ok.close();
    a.optimizer.dispose();
    disposeHead(a.head);
  });

  it('the engines train the same run: mlp, hidden mix, adamw, no dropout', async () => {
    // Without dropout (whose masks each engine draws its own way) the runs differ only by float32
    // rounding (test/train/onnx-step.test.ts), which stays small over 4 epochs of 5 steps.
    const train = synthetic(40);
    const valid = synthetic(20, undefined, undefined, 7);
    const args: TrainArgs = { head: 'mlp', hidden: 16, dropout: 0, mixAt: 'hidden', optimizer: 'adamw', epochs: 4, batchSize: 8, lr: 0.01, seed: 4 };
    const onnx = await trainHead(train, valid, { ...args, trainEngine: 'onnx' });
    const tfjs = await trainHead(train, valid, { ...args, trainEngine: 'tfjs' });
    onnx.history.forEach((e, i) => {
      expect(Math.abs(e.mixedLoss - tfjs.history[i].mixedLoss)).toBeLessThan(1e-4);
      expect(Math.abs(e.validLoss! - tfjs.history[i].validLoss!)).toBeLessThan(1e-4);
    });
    expect(maxDiff(weights(onnx), weights(tfjs))).toBeLessThan(1e-3);
    disposeHead(onnx.head);
    disposeHead(tfjs.head);
  });

  it('class weights (balance "weights") train the same run on both engines; positive weights stay on TF.js', async () => {
    const train = synthetic(40);
    const args: TrainArgs = { head: 'linear', dropout: 0, mixup: { alpha: 0.4, labelSmoothing: 0.1 }, balance: 'weights', epochs: 3, batchSize: 8, lr: 0.01, seed: 5 };
    const onnx = await trainHead(train, null, { ...args, trainEngine: 'onnx' });
    const tfjs = await trainHead(train, null, { ...args, trainEngine: 'tfjs' });
    expect(onnx.engine).toMatch(/^onnx/);
    onnx.history.forEach((e, i) => expect(Math.abs(e.mixedLoss - tfjs.history[i].mixedLoss)).toBeLessThan(1e-4));
    expect(maxDiff(weights(onnx), weights(tfjs))).toBeLessThan(1e-3);
    const multi = synthetic(24, undefined, undefined, 2, true);
    const lines: string[] = [];
    const auto = await trainHead(multi, null, { ...args, epochs: 1, log: (l) => lines.push(l) });
    expect(auto.engine).toMatch(/^tfjs/);
    expect(lines.join('\n')).toMatch(/positive-weighted BCE .* tfjs engine only/);
    await expect(trainHead(multi, null, { ...args, epochs: 1, trainEngine: 'onnx' })).rejects.toThrow(/train engine onnx: .*--train-engine tfjs/);
    for (const r of [onnx, tfjs, auto]) disposeHead(r.head);
  });

  for (const [first, second] of [['onnx', 'tfjs'], ['tfjs', 'onnx']] as const) {
    it(`a run stopped on ${first} resumes on ${second} and ends where an uninterrupted run ends`, async () => {
      const train = synthetic(40);
      const valid = synthetic(20, undefined, undefined, 7);
      const args: TrainArgs = { head: 'conv', hidden: 8, dropout: 0, mixAt: 'hidden', optimizer: 'adam', epochs: 4, batchSize: 8, lr: 0.01, seed: 6, checkpointEvery: 0 };
      const full = await trainHead(train, valid, { ...args, trainEngine: first });
      const out = await tempDir('cross');
      let seen = 0;
      await expect(
        trainHead(train, valid, {
          ...args,
          out,
          trainEngine: first,
          onEpoch: () => {
            if (++seen === 2) throw new Error('stopped');
          },
        }),
      ).rejects.toThrow(/stopped/);
      const resumed = await trainHead(train, valid, { ...args, out, resume: true, trainEngine: second });
      expect(resumed.resumedFrom).toBe(2);
      expect(resumed.engine.startsWith(second)).toBe(true);
      // The first two epochs are the stopped run's record; the last two continue its state (weights,
      // moments, step count): only float32 rounding separates them from the uninterrupted run.
      expect(resumed.history.slice(0, 2)).toEqual(full.history.slice(0, 2).map((e) => ({ ...e, seconds: expect.any(Number), samplesPerSecond: expect.any(Number), numTensors: expect.any(Number) })));
      resumed.history.slice(2).forEach((e, i) => expect(Math.abs(e.mixedLoss - full.history[i + 2].mixedLoss)).toBeLessThan(1e-4));
      expect(maxDiff(weights(resumed), weights(full))).toBeLessThan(1e-3);
      // A fresh start instead of the resume would be far off: the comparison can fail.
      const fresh = await trainHead(train, valid, { ...args, epochs: 2, trainEngine: second });
      expect(maxDiff(weights(fresh), weights(full))).toBeGreaterThan(1e-2);
      for (const r of [full, resumed, fresh]) disposeHead(r.head);
    });
  }
});

describe.each(['onnx', 'tfjs'] as const)('user callbacks through TrainArgs (%s engine)', (trainEngine) => {
  it('see every event in order, with the batch samples before the step', async () => {
    const train = synthetic(24);
    const events: string[] = [];
    const seen: number[][] = [];
    const fromOnBatch: number[][] = [];
    const r = await trainHead(train, null, {
      epochs: 2,
      batchSize: 8,
      lr: 0.01,
      trainEngine,
      onBatch: (_d, _t, b) => fromOnBatch.push(Array.from(b!.indices)),
      callbacks: [
        {
          name: 'recorder',
          beforeBatch: (fit: Fit) => {
            events.push('beforeBatch');
            seen.push(Array.from(fit.indices!));
          },
          beforeStep: () => void events.push('beforeStep'),
          afterStep: () => void events.push('afterStep'),
          afterEpoch: () => void events.push('afterEpoch'),
          afterFit: () => void events.push('afterFit'),
        },
      ],
    });
    const epoch = [...Array(3)].flatMap(() => ['beforeBatch', 'beforeStep', 'afterStep']);
    expect(events).toEqual([...epoch, 'afterEpoch', ...epoch, 'afterEpoch', 'afterFit']);
    expect(seen).toEqual(fromOnBatch);
    disposeHead(r.head);
  });

  it('a policy added as a callback changes training without editing the loop: lr 0 freezes the head; stop ends it', async () => {
    const train = synthetic(24);
    const args: TrainArgs = { head: 'mlp', hidden: 8, dropout: 0, epochs: 3, batchSize: 8, lr: 0.05, trainEngine, seed: 2 };
    const initial = buildHead({ type: 'mlp', featureShape: train.featureShape, numClasses: 3, hidden: 8, dropout: 0, seed: 2 });
    const start = initial.train.trainableWeights.map((v) => Array.from(v.read().dataSync()));
    disposeHead(initial);
    const frozen = await trainHead(train, null, { ...args, callbacks: [{ name: 'freeze', beforeStep: (fit: Fit) => void (fit.lr = 0) }] });
    expect(maxDiff(weights(frozen), start)).toBe(0);
    const moving = await trainHead(train, null, { ...args, callbacks: [{ name: 'stopAfterOne', afterEpoch: (fit: Fit) => void (fit.stop = true) }] });
    expect(moving.history).toHaveLength(1);
    expect(maxDiff(weights(moving), start)).toBeGreaterThan(1e-3);
    disposeHead(frozen.head);
    disposeHead(moving.head);
  });
});

describe('the lr finder is a mode of the same loop', () => {
  it('runs on either engine, and both record the same ramp (no dropout: float32 rounding apart)', async () => {
    const { findLearningRate } = await import('../../src/train/lrfind.js');
    const train = synthetic(48);
    const args = { head: 'mlp' as const, hidden: 8, dropout: 0, batchSize: 16, steps: 30, seed: 3 };
    const onnx = await findLearningRate(train, { ...args, trainEngine: 'onnx' });
    const tfjs = await findLearningRate(train, { ...args, trainEngine: 'tfjs' });
    expect(onnx.lrs).toEqual(tfjs.lrs.slice(0, onnx.lrs.length));
    // While the rates are small the runs stay together; near divergence rounding is amplified.
    for (let i = 0; i < 15; i++) expect(Math.abs(onnx.losses[i] - tfjs.losses[i])).toBeLessThan(1e-4 * (1 + Math.abs(tfjs.losses[i])));
    expect(Math.abs(Math.log10(onnx.suggestion / tfjs.suggestion))).toBeLessThan(0.5);
  });
});
