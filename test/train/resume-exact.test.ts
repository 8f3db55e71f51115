/**
 * Resume is bit-identical: a run killed after epoch 2 and resumed ends with exactly the weights and
 * losses of an uninterrupted run, with every callback in play (schedule, fresh dropout, weight decay,
 * hidden-layer mixing, best-epoch restore).
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { synthetic } from '../fixtures/synthetic.js';
import { tempDir } from '../tmp.js';
import { trainHead, type TrainArgs } from '../../src/train/trainer.js';
import { disposeHead } from '../../src/train/heads.js';

describe.each(['onnx', 'tfjs'] as const)('resume on the %s engine', (trainEngine) => {
  it('a killed and resumed run equals an uninterrupted one, bit for bit', async () => {
    const train = synthetic(40);
    const valid = synthetic(20, undefined, undefined, 7);
    const args: TrainArgs = { head: 'mlp', hidden: 16, dropout: 0.3, optimizer: 'adamw', mixAt: 'hidden', epochs: 5, batchSize: 8, lr: 0.02, seed: 9, trainEngine, checkpointEvery: 0 };
    const full = await trainHead(train, valid, { ...args, out: await tempDir('exact') });
    const out = await tempDir('exact');
    let seen = 0;
    await expect(
      trainHead(train, valid, {
        ...args,
        out,
        onEpoch: () => {
          if (++seen === 2) throw new Error('killed');
        },
      }),
    ).rejects.toThrow(/killed/);
    const resumed = await trainHead(train, valid, { ...args, out, resume: true });
    expect(resumed.resumedFrom).toBe(2);
    expect(resumed.history.map((e) => e.mixedLoss)).toEqual(full.history.map((e) => e.mixedLoss));
    expect(resumed.bestEpoch).toBe(full.bestEpoch);
    const w = (r: typeof full) => r.head.train.trainableWeights.map((v) => Array.from(v.read().dataSync()));
    expect(w(resumed)).toEqual(w(full));
    disposeHead(full.head);
    disposeHead(resumed.head);
  });
});

describe('checkpoints on a clock', () => {
  it('between saves a kill loses the epochs since the last one; the final epoch and the best weights are always saved; the resume still equals the full run', async () => {
    const { loadCheckpoint } = await import('../../src/train/checkpoint.js');
    const train = synthetic(40);
    const valid = synthetic(20, undefined, undefined, 7);
    const args: TrainArgs = { head: 'mlp', hidden: 16, dropout: 0.3, mixAt: 'hidden', epochs: 5, batchSize: 8, lr: 0.02, seed: 9, checkpointEvery: 3600 };
    const fullOut = await tempDir('clock');
    const full = await trainHead(train, valid, { ...args, out: fullOut });
    // One save, after the final epoch: `last` at epoch 5, and `best` holds the best epoch's weights.
    const last = await loadCheckpoint<{ epoch: number; bestEpoch: number; checkpointEpoch: number }>(path.join(fullOut, 'checkpoints'), 'last');
    expect(last?.state).toMatchObject({ epoch: 5, bestEpoch: full.bestEpoch, checkpointEpoch: 5 });
    const best = await loadCheckpoint<{ bestEpoch: number }>(path.join(fullOut, 'checkpoints'), 'best');
    expect(best?.state.bestEpoch).toBe(full.bestEpoch);
    // Killed after epoch 3 with no save yet: the resume starts at epoch 1 and replays the whole run.
    const out = await tempDir('clock');
    let seen = 0;
    await expect(trainHead(train, valid, { ...args, out, onEpoch: () => { if (++seen === 3) throw new Error('killed'); } })).rejects.toThrow(/killed/);
    const resumed = await trainHead(train, valid, { ...args, out, resume: true });
    expect(resumed.resumedFrom ?? 0).toBe(0);
    expect(resumed.history.map((e) => e.mixedLoss)).toEqual(full.history.map((e) => e.mixedLoss));
    const w = (r: typeof full) => r.head.train.trainableWeights.map((v) => Array.from(v.read().dataSync()));
    expect(w(resumed)).toEqual(w(full));
    disposeHead(full.head);
    disposeHead(resumed.head);

    // A policy of the user's that stops the run is seen too: the stop epoch is saved, and a resume trains no further.
    const stopOut = await tempDir('clock');
    const stopAt2 = { name: 'stopAt2', afterEpoch: (fit: { state: { epoch: number }; stop: boolean }) => void (fit.state.epoch === 2 && (fit.stop = true)) };
    const stopped = await trainHead(train, valid, { ...args, out: stopOut, callbacks: [stopAt2] });
    expect(stopped.history).toHaveLength(2);
    const saved = await loadCheckpoint<{ epoch: number; stoppedEarly: boolean }>(path.join(stopOut, 'checkpoints'), 'last');
    expect(saved?.state).toMatchObject({ epoch: 2, stoppedEarly: true });
    const again = await trainHead(train, valid, { ...args, out: stopOut, resume: true });
    expect(again.history).toHaveLength(2);
    disposeHead(stopped.head);
    disposeHead(again.head);
  });
});

