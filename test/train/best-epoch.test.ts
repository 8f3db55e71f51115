/**
 * Best epoch: the validation metric decides, the validation loss breaks ties; the head returned is
 * always the best epoch's, with or without an output folder. Resuming: a stopped run stays stopped,
 * a changed schedule is refused, the user's mixup seed is kept, and NaN survives state.json.
 */
import { describe, expect, it } from 'vitest';
import { synthetic } from '../fixtures/synthetic.js';
import { tempDir } from '../tmp.js';
import { memoryFeatureSet, type FeatureSet } from '../../src/train/features.js';
import { evaluateSet, trainHead, type TrainArgs } from '../../src/train/trainer.js';
import { disposeHead } from '../../src/train/heads.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';

const quick: TrainArgs = { epochs: 8, batchSize: 16, lr: 0.05, seed: 3 };

/** `set` with every label moved to the next class: training on the true labels makes it worse. */
function relabelled(set: FeatureSet): FeatureSet {
  const [h, w, c] = set.featureShape;
  const maps = new Float32Array(set.size * h * w * c);
  set.readRows(Int32Array.from({ length: set.size }, (_, i) => i), maps);
  const labels = Array.from(set.labelIndex, (y) => [set.classes[(y + 1) % set.classes.length]]);
  return memoryFeatureSet({ maps, featureShape: set.featureShape, labels, classes: set.classes });
}

describe('best epoch', () => {
  it('a tie on the metric goes to the lower validation loss', async () => {
    const train = synthetic(48);
    const valid = synthetic(30, undefined, undefined, 9);
    const r = await trainHead(train, valid, quick);
    const values = r.history.map((e) => e.metric!.value);
    const top = Math.max(...values);
    // The fixture reaches 100% early and keeps lowering the loss: a tie over several epochs.
    expect(values.filter((v) => v === top).length).toBeGreaterThan(3);
    const tied = r.history.filter((e) => e.metric!.value === top);
    const lowest = tied.reduce((a, b) => (b.validLoss! < a.validLoss! ? b : a));
    expect(r.bestEpoch).toBe(lowest.epoch);
    disposeHead(r.head);
  });

  for (const withOut of [false, true]) {
    it(`the returned head is the best epoch's ${withOut ? 'with' : 'without'} an output folder`, async () => {
      const train = synthetic(48);
      const valid = relabelled(synthetic(30, undefined, undefined, 9));
      const r = await trainHead(train, valid, { ...quick, patience: 2, out: withOut ? await tempDir('best') : undefined });
      expect(r.bestEpoch).toBeLessThan(r.history.length);
      const m = evaluateSet(r.head, valid);
      expect(m.loss).toBeCloseTo(r.history[r.bestEpoch - 1].validLoss!, 5);
      expect(m.loss).toBeCloseTo(r.best!.loss, 5);
      disposeHead(r.head);
    });
  }

  it('"still improving" is reported when the best epoch is the last', async () => {
    const lines: string[] = [];
    const r = await trainHead(synthetic(48), synthetic(30, undefined, undefined, 9), { ...quick, log: (l) => lines.push(l) });
    expect(r.bestEpoch).toBe(r.history.length);
    expect(r.stillImproving).toBe(true);
    expect(lines.join('\n')).toMatch(/still improving/);
    disposeHead(r.head);
  });
});

describe('resume', () => {
  it('a run that stopped early does not train another epoch when resumed', async () => {
    const out = await tempDir('stop');
    const train = synthetic(48);
    const valid = relabelled(synthetic(30, undefined, undefined, 9));
    const first = await trainHead(train, valid, { ...quick, patience: 2, out });
    expect(first.stoppedEarly).toBe(true);
    disposeHead(first.head);
    const again = await trainHead(train, valid, { ...quick, patience: 2, out, resume: true });
    expect(again.history).toHaveLength(first.history.length);
    expect(again.stoppedEarly).toBe(true);
    expect(again.bestEpoch).toBe(first.bestEpoch);
    disposeHead(again.head);
  });

  it('resuming with another length or schedule is refused, naming the option', async () => {
    const out = await tempDir('sched');
    const r = await trainHead(synthetic(24), null, { ...quick, epochs: 2, out });
    disposeHead(r.head);
    await expect(trainHead(synthetic(24), null, { ...quick, epochs: 4, out, resume: true })).rejects.toThrow(/epochs.*2.*4/);
    await expect(trainHead(synthetic(24), null, { ...quick, epochs: 2, lr: 0.1, out, resume: true })).rejects.toThrow(/lr/);
  });

  it("the user's mixup seed drives the mix draws (the training seed no longer overwrites it)", async () => {
    const train = synthetic(32);
    const run = async (mixSeed: number) => {
      const r = await trainHead(train, null, { ...quick, epochs: 1, mixup: { alpha: 0.4, seed: mixSeed } });
      disposeHead(r.head);
      return r.history[0].mixedLoss;
    };
    expect(await run(1)).not.toBe(await run(2));
    expect(await run(1)).toBe(await run(1));
  });

  it('NaN and infinities survive a checkpoint round trip (JSON turns them into null)', async () => {
    const dir = await tempDir('nan');
    await saveCheckpoint(dir, 'last', { a: NaN, b: -Infinity, c: [1, Infinity], d: 'NaN' }, [], null);
    const ck = await loadCheckpoint<{ a: number; b: number; c: number[]; d: string }>(dir, 'last');
    expect(ck!.state.a).toBeNaN();
    expect(ck!.state.b).toBe(-Infinity);
    expect(ck!.state.c).toEqual([1, Infinity]);
    expect(ck!.state.d).toBe('NaN');
  });
});
