// The per-batch mix policy (docs/architecture.md, "Mixup semantics"): seeds, prob, offAfterEpoch, switchProb,
// exclusions, schedules, validation, and the λ record.
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/random.js';
import { Mixer, alphaAt, planMatrix, type MixPlan, type MixupArgs } from '../../src/mixup/mixer.js';
import { applyCutmix, correctedLambda } from '../../src/mixup/cutmix.js';
import { blendTargets, oneHot, smoothTargets } from '../../src/mixup/labels.js';
import { mixingMatrix, mixRows } from '../../src/mixup/mix.js';
import { K_SE } from './stats.js';

const CLASSES = ['cat', 'dog', 'bird', 'fish', 'frog'];

function labels(seed: number, b: number, k = CLASSES.length): Int32Array {
  const rng = new Rng(seed);
  return new Int32Array(b).map(() => rng.int(k));
}

function plans(args: MixupArgs, count: number, b = 16, epoch = 0, spatial?: [number, number]): MixPlan[] {
  const mixer = new Mixer(args, CLASSES);
  return Array.from({ length: count }, (_, t) => mixer.plan(labels(t, b), epoch, { spatial }));
}

describe('Mixer: determinism', () => {
  it('gives identical plans for the same seed and different ones for another seed', () => {
    const args: MixupArgs = { seed: 11, cutmixAlpha: 1, pairs: 'differentClass', prob: 0.8 };
    const a = plans(args, 40, 16, 0, [7, 7]);
    const b = plans(args, 40, 16, 0, [7, 7]);
    expect(a).toEqual(b);
    expect(plans({ ...args, seed: 12 }, 40, 16, 0, [7, 7])).not.toEqual(a);
    expect(new Set(a.map((p) => p.mode))).toEqual(new Set(['none', 'mixup', 'cutmix']));
  });
});

describe('Mixer: defaults and plans', () => {
  it('defaults to per-sample dominant mixup with α = 0.4 and permutation pairing', () => {
    const m = new Mixer({}, CLASSES);
    expect(m.options).toMatchObject({
      alpha: 0.4, cutmixAlpha: 0, switchProb: 0.5, prob: 1, lambda: 'sample', dominant: true,
      pairing: 'permutation', pairs: 'any', excludeClasses: [], labelSmoothing: 0, correctLambda: true, seed: 0,
    });
    const p = m.plan(labels(1, 32), 0);
    expect(p.mode).toBe('mixup');
    expect(p.alpha).toBe(0.4);
    expect(p.lam.every((l) => l >= 0.5 && l <= 1)).toBe(true);
    // Unmixed samples (π(i) = i) report λ = 1; mixed ones λ < 1 (almost surely).
    for (let i = 0; i < 32; i++) expect(p.partner[i] === i).toBe(p.lam[i] === 1);
  });

  it("'batch' λ is shared by every mixed sample", () => {
    for (const p of plans({ lambda: 'batch', dominant: false, alpha: 1 }, 10)) {
      const mixed = [...p.lam].filter((_, i) => p.partner[i] !== i);
      expect(new Set(mixed).size).toBe(1);
    }
  });

  it('leaves a batch of one unmixed', () => {
    const p = new Mixer({ cutmixAlpha: 1 }, CLASSES).plan(Int32Array.of(2), 0, { spatial: [7, 7] });
    expect(p.mode).toBe('none');
    expect([...p.lam]).toEqual([1]);
    expect([...p.partner]).toEqual([0]);
  });

  it('works without labels given a batch size, and refuses label policies then', () => {
    const p = new Mixer({}, CLASSES).plan(null, 0, { batchSize: 9 });
    expect(p.lam.length).toBe(9);
    expect(() => new Mixer({}, CLASSES).plan(null, 0)).toThrow(/batchSize/);
    expect(() => new Mixer({ excludeClasses: ['cat'] }, CLASSES).plan(null, 0, { batchSize: 4 })).toThrow(/need labels/);
    expect(() => new Mixer({ pairs: 'differentClass' }, CLASSES).plan(null, 0, { batchSize: 4 })).toThrow(/need labels/);
  });

  it('never mixes excluded classes nor uses them as partners', () => {
    const mixer = new Mixer({ excludeClasses: ['dog', 3], cutmixAlpha: 1 }, CLASSES);
    expect(mixer.options.excludeClasses).toEqual([1, 3]);
    for (let t = 0; t < 200; t++) {
      const y = labels(t, 12);
      const p = mixer.plan(y, 0, { spatial: [7, 7] });
      for (let i = 0; i < 12; i++) {
        if (y[i] === 1 || y[i] === 3) {
          expect(p.partner[i]).toBe(i);
          expect(p.lam[i]).toBe(1);
        }
        if (p.partner[i] !== i) expect([1, 3]).not.toContain(y[p.partner[i]]);
      }
    }
  });

  it('ANDs an extra per-sample eligibility with the exclusions', () => {
    const eligible = [false, true, true, true, true, true];
    const p = new Mixer({}, CLASSES).plan(Int32Array.of(0, 1, 2, 0, 1, 2), 0, { eligible });
    expect(p.partner[0]).toBe(0);
    expect([...p.partner].filter((q, i) => q === 0 && i !== 0)).toEqual([]);
  });
});

describe('Mixer: policies', () => {
  it('prob = 0 never mixes; prob = 0.3 mixes about 30% of batches', () => {
    expect(plans({ prob: 0 }, 100).every((p) => p.mode === 'none')).toBe(true);
    const n = 2000;
    const mixed = plans({ prob: 0.3, seed: 3 }, n, 4).filter((p) => p.mode !== 'none').length;
    // Binomial(n, 0.3): 5 SE = 5·√(n·0.3·0.7). A 4-sample batch can also end unmixed if its
    // permutation is the identity (1/24): the expected rate is 0.3·23/24.
    const p = 0.3 * (23 / 24);
    expect(Math.abs(mixed - n * p)).toBeLessThan(K_SE * Math.sqrt(n * p * (1 - p)));
  });

  it('stops from offAfterEpoch on (0-based epochs)', () => {
    const mixer = new Mixer({ offAfterEpoch: 2 }, CLASSES);
    const y = labels(1, 16);
    expect(mixer.plan(y, 0).mode).toBe('mixup');
    expect(mixer.plan(y, 1.5).mode).toBe('mixup');
    expect(mixer.plan(y, 2).mode).toBe('none');
    expect(mixer.plan(y, 3).mode).toBe('none');
    expect(new Mixer({ offAfterEpoch: 0 }, CLASSES).plan(y, 0).mode).toBe('none');
  });

  it('switchProb 0 → always mixup, 1 → always CutMix; CutMix needs spatial dims', () => {
    const both = { alpha: 0.4, cutmixAlpha: 1 };
    expect(plans({ ...both, switchProb: 0 }, 50, 8, 0, [7, 7]).every((p) => p.mode === 'mixup')).toBe(true);
    expect(plans({ ...both, switchProb: 1 }, 50, 8, 0, [7, 7]).every((p) => p.mode === 'cutmix')).toBe(true);
    expect(plans({ ...both, switchProb: 1 }, 50, 8).every((p) => p.mode === 'mixup')).toBe(true);
    expect(plans({ alpha: 0, cutmixAlpha: 1 }, 20, 8).every((p) => p.mode === 'none')).toBe(true);
    expect(plans({ alpha: 0, cutmixAlpha: 1 }, 20, 8, 0, [7, 7]).every((p) => p.mode !== 'mixup')).toBe(true);
  });

  it('CutMix plans carry one box, λ corrected to its area (or the drawn λ when switched off)', () => {
    for (const p of plans({ alpha: 0, cutmixAlpha: 1 }, 50, 8, 0, [7, 7])) {
      if (p.mode !== 'cutmix') continue;
      expect(p.box).toBeDefined();
      expect(p.grid).toEqual([7, 7]);
      const lam = Math.fround(correctedLambda(p.box!, 7, 7));
      for (let i = 0; i < 8; i++) expect(p.lam[i]).toBe(p.partner[i] === i ? 1 : lam);
    }
    const raw = plans({ alpha: 0, cutmixAlpha: 1, correctLambda: false }, 50, 8, 0, [7, 7]).filter((p) => p.mode === 'cutmix');
    const differs = raw.filter((p) => {
      const i = p.partner.findIndex((q, j) => q !== j);
      return i >= 0 && p.lam[i] !== Math.fround(correctedLambda(p.box!, 7, 7));
    });
    expect(differs.length).toBeGreaterThan(raw.length / 2);
  });

  it('follows an α schedule (object or function), and α = 0 turns mixup off', () => {
    expect(alphaAt({ type: 'constant', from: 0.3 }, 7)).toBe(0.3);
    expect(alphaAt({ type: 'linear', from: 0, to: 1, epochs: 4 }, 1)).toBeCloseTo(0.25, 12);
    expect(alphaAt({ type: 'linear', from: 0, to: 1, epochs: 4 }, 9)).toBe(1);
    expect(alphaAt({ type: 'cosine', from: 1, to: 0, epochs: 10 }, 5)).toBeCloseTo(0.5, 12);
    expect(alphaAt({ type: 'cosine', from: 1, to: 0, epochs: 10 }, 0)).toBe(1);
    const mixer = new Mixer({ alphaSchedule: { type: 'linear', from: 0.8, to: 0, epochs: 2 } }, CLASSES);
    expect(mixer.plan(labels(1, 8), 0).alpha).toBeCloseTo(0.8, 12);
    expect(mixer.plan(labels(1, 8), 1).alpha).toBeCloseTo(0.4, 12);
    expect(mixer.plan(labels(1, 8), 2).mode).toBe('none');
    const fn = new Mixer({ alphaSchedule: (e) => (e < 1 ? 2 : 0) }, CLASSES);
    expect(fn.plan(labels(1, 8), 0).alpha).toBe(2);
    expect(fn.plan(labels(1, 8), 1).mode).toBe('none');
    expect(() => new Mixer({ alphaSchedule: () => -1 }, CLASSES).plan(labels(1, 8), 0)).toThrow(/alphaSchedule gave alpha -1/);
  });
});

describe('Mixer: applying plans', () => {
  it('applyToRows is mixRows for mixup, a copy for none, applyCutmix for CutMix', () => {
    const rng = new Rng(5);
    const b = 8;
    const x = new Float32Array(b * 7 * 7 * 3).map(() => rng.normal());
    for (const p of plans({ cutmixAlpha: 1, prob: 0.7 }, 30, b, 0, [7, 7])) {
      const got = new Mixer({}, CLASSES).applyToRows(p, x, [7, 7, 3]);
      expect(got).not.toBe(x);
      if (p.mode === 'cutmix') expect(got).toEqual(applyCutmix(x, [b, 7, 7, 3], p.partner, p.box!));
      else expect(got).toEqual(mixRows(x, 147, p.lam, p.partner));
      if (p.mode === 'none') expect(got).toEqual(x);
    }
    const cut = plans({ alpha: 0, cutmixAlpha: 1 }, 5, b, 0, [7, 7]).find((p) => p.mode === 'cutmix')!;
    expect(() => new Mixer({}, CLASSES).applyToRows(cut, x, [49, 3])).toThrow(/\[7, 7, C\]/);
  });

  it('applyToTargets smooths first, then blends', () => {
    const mixer = new Mixer({ labelSmoothing: 0.1, seed: 4 }, CLASSES);
    const y = labels(2, 10);
    const p = mixer.plan(y, 0);
    const t = oneHot(y, CLASSES.length);
    const expected = blendTargets(smoothTargets(t, CLASSES.length, 0.1), p.lam, p.partner);
    expect(mixer.applyToTargets(p, t)).toEqual(expected);
    expect(() => mixer.applyToTargets(p, new Float32Array(3))).toThrow(/B×K/);
  });

  it('planMatrix gives the identity for none, mixingMatrix for mixup, and refuses CutMix', () => {
    const none = new Mixer({ prob: 0 }, CLASSES).plan(labels(1, 3), 0);
    expect([...planMatrix(none)]).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    const mix = new Mixer({}, CLASSES).plan(labels(1, 6), 0);
    expect(planMatrix(mix)).toEqual(mixingMatrix(mix.lam, mix.partner));
    const cut = plans({ alpha: 0, cutmixAlpha: 1 }, 5, 6, 0, [7, 7]).find((p) => p.mode === 'cutmix')!;
    expect(() => planMatrix(cut)).toThrow(/CutMix/);
  });
});

describe('Mixer: λ history', () => {
  it('counts every λ of every plan in fixed bins, with the unmixed and per-mode tallies', () => {
    const mixer = new Mixer({ prob: 0.5, cutmixAlpha: 1, seed: 8 }, CLASSES);
    const made: MixPlan[] = [];
    for (let t = 0; t < 60; t++) made.push(mixer.plan(labels(t, 10), 0, { spatial: t % 2 ? [7, 7] : undefined }));
    const h = mixer.lambdaHistory();
    const all = made.flatMap((p) => [...p.lam]);
    expect(h.count).toBe(600);
    expect(h.counts.reduce((s, c) => s + c, 0)).toBe(600);
    expect(h.counts.length).toBe(20);
    expect(h.edges.length).toBe(21);
    expect(h.unmixed).toBe(all.filter((l) => l === 1).length);
    expect(h.mean).toBeCloseTo(all.reduce((s, l) => s + l, 0) / all.length, 9);
    expect(h.min).toBe(Math.min(...all));
    expect(h.max).toBe(1);
    expect(h.counts[19]).toBeGreaterThanOrEqual(h.unmixed);
    for (const mode of ['none', 'mixup', 'cutmix'] as const) {
      expect(h.batches[mode]).toBe(made.filter((p) => p.mode === mode).length);
    }
    // Bins hold what falls in them.
    for (let j = 0; j < 19; j++) {
      expect(h.counts[j]).toBe(all.filter((l) => l >= j / 20 && l < (j + 1) / 20).length);
    }
    mixer.resetHistory();
    expect(mixer.lambdaHistory().count).toBe(0);
  });
});

describe('Mixer: validation', () => {
  const bad: Array<[MixupArgs, RegExp]> = [
    [{ alpha: -1 }, /^alpha = -1: use a number ≥ 0$/],
    [{ cutmixAlpha: Number.NaN }, /cutmixAlpha = NaN: use a number ≥ 0/],
    [{ switchProb: 2 }, /switchProb = 2: use a number in \[0, 1\]/],
    [{ prob: -0.1 }, /^prob = -0.1: use a number in \[0, 1\]/],
    [{ lambda: 'element' as never }, /lambda = "element": use one of sample, batch/],
    [{ dominant: 'yes' as never }, /dominant = "yes": use true or false/],
    [{ pairing: 'roll' as never }, /pairing = "roll": use one of permutation, flip/],
    [{ pairs: 'same' as never }, /pairs = "same": use one of any, differentClass/],
    [{ excludeClasses: ['horse'] }, /unknown class "horse"; classes are "cat", "dog"/],
    [{ excludeClasses: [5] }, /index 5 is not a class index in \[0, 5\)/],
    [{ labelSmoothing: 1 }, /labelSmoothing = 1: use a number in \[0, 1\)/],
    [{ offAfterEpoch: -2 }, /offAfterEpoch = -2: use a whole number ≥ 0/],
    [{ alphaSchedule: { type: 'step' as never, from: 1 } }, /alphaSchedule.type = "step": use one of constant, linear, cosine/],
    [{ alphaSchedule: { type: 'linear', from: 1, to: 0 } }, /alphaSchedule.epochs .*use a number > 0; 'linear' needs it/],
    [{ correctLambda: 1 as never }, /correctLambda = 1: use true or false/],
    [{ seed: 0.5 }, /seed = 0.5: use a whole number/],
    [{ cutMixAlpha: 1 } as never, /unknown option 'cutMixAlpha'; valid options: alpha, cutmixAlpha/],
  ];
  for (const [args, message] of bad) {
    it(`rejects ${JSON.stringify(args) ?? String(args)}`, () => {
      expect(() => new Mixer(args, CLASSES)).toThrow(message);
    });
  }

  it('rejects bad classes, epochs and spatial dims', () => {
    expect(() => new Mixer({}, [])).toThrow(/classes/);
    expect(() => new Mixer({}, ['a', 'a'])).toThrow(/distinct/);
    const m = new Mixer({}, CLASSES);
    expect(() => m.plan(labels(1, 4), -1)).toThrow(/epoch must be/);
    expect(() => m.plan(labels(1, 4), 0, { spatial: [0, 7] })).toThrow(/spatial/);
    expect(() => m.plan(labels(1, 4), 0, { batchSize: 5 })).toThrow(/differs/);
  });
});
