/**
 * On multi-label data, excludeClasses and pairs 'differentClass' look at every label of a sample,
 * not only its first (README: excluded classes are "never mixed and never used as partners").
 */
import { describe, expect, it } from 'vitest';
import { synthetic } from '../fixtures/synthetic.js';
import { trainHead } from '../../src/train/trainer.js';
import { disposeHead } from '../../src/train/heads.js';
import { Mixer } from '../../src/mixup/index.js';

const classesOf = (targets: Float32Array, k: number, i: number) => Array.from({ length: k }, (_, c) => c).filter((c) => targets[i * k + c] > 0.5);

describe('multi-label mixing uses all labels', () => {
  it('a sample carrying an excluded class as its second label is never mixed nor a partner', async () => {
    const train = synthetic(90, [1, 1, 8], ['a', 'b', 'c'], 4, true);
    const k = 3;
    const carriesC = (i: number) => train.targets[i * k + 2] > 0.5;
    // The fixture must have samples whose first label is not c but which carry c.
    expect(Array.from({ length: train.size }, (_, i) => i).filter((i) => carriesC(i) && train.labelIndex[i] !== 2).length).toBeGreaterThan(5);
    let touched = 0;
    let mixedPairs = 0;
    const r = await trainHead(train, null, {
      epochs: 3,
      batchSize: 16,
      lr: 0.01,
      mixup: { alpha: 0.4, excludeClasses: ['c'] },
      onBatch: (_d, _t, batch) => {
        const { indices, plan } = batch!;
        plan.partner.forEach((p, j) => {
          if (p === j) return;
          mixedPairs++;
          if (carriesC(indices[j]) || carriesC(indices[p])) touched++;
        });
      },
    });
    expect(mixedPairs).toBeGreaterThan(50);
    expect(touched).toBe(0);
    disposeHead(r.head);
  });

  it("pairs 'differentClass' pairs samples that share no label whenever the batch has such a partner", async () => {
    const train = synthetic(90, [1, 1, 8], ['a', 'b', 'c', 'd'], 6, true);
    const k = 4;
    let bad = 0;
    let mixed = 0;
    const r = await trainHead(train, null, {
      epochs: 2,
      batchSize: 12,
      lr: 0.01,
      mixup: { alpha: 0.4, pairs: 'differentClass' },
      onBatch: (_d, _t, batch) => {
        const { indices, plan } = batch!;
        const sets = Array.from(indices, (i) => classesOf(train.targets, k, i));
        const disjoint = (x: number[], y: number[]) => !x.some((c) => y.includes(c));
        plan.partner.forEach((p, j) => {
          if (p === j) return;
          mixed++;
          if (!disjoint(sets[j], sets[p]) && sets.some((s) => disjoint(sets[j], s))) bad++;
        });
      },
    });
    expect(mixed).toBeGreaterThan(50);
    expect(bad).toBe(0);
    disposeHead(r.head);
  });

  it('the mixer takes label sets: exclusion and differentClass on every label', () => {
    const mixer = new Mixer({ seed: 3, excludeClasses: ['c'], pairs: 'differentClass' }, ['a', 'b', 'c']);
    // Sample 1 has c as its second label; 0 and 2 share a; 3 has b only.
    const sets = [[0], [1, 2], [0, 1], [1], [0]];
    for (let t = 0; t < 50; t++) {
      const p = mixer.plan(Int32Array.from(sets, (s) => s[0]), 0, { labelSets: sets });
      expect(p.partner[1]).toBe(1);
      expect(Array.from(p.partner).filter((q, j) => q === 1 && j !== 1)).toEqual([]);
      p.partner.forEach((q, j) => {
        if (q !== j) expect(sets[j].some((c) => sets[q].includes(c))).toBe(false);
      });
    }
  });
});
