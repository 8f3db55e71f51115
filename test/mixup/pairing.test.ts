// Who mixes with whom (docs/architecture.md, "Mixup semantics": Pairing and Policies).
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/base/random.js';
import { pairPartners, type Pairing, type PairsPolicy } from '../../src/mixup/pairing.js';

const sorted = (a: Int32Array): number[] => [...a].sort((x, y) => x - y);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

function randomLabels(rng: Rng, n: number, classes: number): Int32Array {
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = rng.int(classes);
  return y;
}

describe('pairPartners', () => {
  it("'permutation' is a bijection of the batch, for every size including odd ones", () => {
    const rng = new Rng(1);
    for (let n = 0; n <= 33; n++) {
      const p = pairPartners(rng, n, { pairing: 'permutation', pairs: 'any' });
      expect(sorted(p)).toEqual(range(n));
    }
  });

  it("'flip' pairs i with B − 1 − i; the middle of an odd batch is itself", () => {
    const rng = new Rng(2);
    expect([...pairPartners(rng, 6, { pairing: 'flip', pairs: 'any' })]).toEqual([5, 4, 3, 2, 1, 0]);
    expect([...pairPartners(rng, 5, { pairing: 'flip', pairs: 'any' })]).toEqual([4, 3, 2, 1, 0]);
  });

  it('leaves a batch of one (or none) unmixed rather than failing', () => {
    for (const pairing of ['permutation', 'flip'] as const) {
      for (const pairs of ['any', 'differentClass'] as const) {
        expect([...pairPartners(new Rng(3), Int32Array.of(4), { pairing, pairs })]).toEqual([0]);
        expect(pairPartners(new Rng(3), new Int32Array(0), { pairing, pairs }).length).toBe(0);
      }
    }
  });

  it('never mixes excluded samples nor uses them as partners (property over many batches)', () => {
    const rng = new Rng(4);
    const excluded = new Set([1, 3]);
    for (let t = 0; t < 400; t++) {
      const n = 1 + rng.int(24);
      const labels = randomLabels(rng, n, 5);
      const eligible = [...labels].map((y) => !excluded.has(y));
      const pairing: Pairing = t % 2 === 0 ? 'permutation' : 'flip';
      const pairs: PairsPolicy = t % 4 < 2 ? 'any' : 'differentClass';
      const p = pairPartners(rng, labels, { pairing, pairs, eligible });
      for (let i = 0; i < n; i++) {
        if (!eligible[i]) expect(p[i]).toBe(i);
        // Whoever i is paired with is eligible, or is i itself.
        expect(p[i] === i || eligible[p[i]]).toBe(true);
      }
      if (pairs === 'any') {
        // Among the eligible samples π is still a bijection.
        const pool = range(n).filter((i) => eligible[i]);
        expect(pool.map((i) => p[i]).sort((a, b) => a - b)).toEqual(pool);
      }
    }
  });

  it("'flip' reverses the eligible samples only", () => {
    const labels = Int32Array.of(0, 9, 1, 2, 9, 3);
    const eligible = [...labels].map((y) => y !== 9);
    const p = pairPartners(new Rng(5), labels, { pairing: 'flip', pairs: 'any', eligible });
    expect([...p]).toEqual([5, 1, 3, 2, 4, 0]);
  });

  it("'differentClass' never pairs the same class when another class is eligible (property)", () => {
    const rng = new Rng(6);
    const trials = 600;
    for (let t = 0; t < trials; t++) {
      const n = 1 + rng.int(32);
      // Skewed class mix so that repairs are often needed and sometimes impossible to do as swaps.
      const labels = randomLabels(rng, n, 1 + rng.int(4)).map((y) => (rng.uniform() < 0.5 ? 0 : y));
      const eligible = t % 3 === 0 ? [...labels].map(() => rng.uniform() < 0.8) : undefined;
      const pairing: Pairing = t % 2 === 0 ? 'permutation' : 'flip';
      const p = pairPartners(rng, labels, { pairing, pairs: 'differentClass', eligible });
      const ok = (i: number) => eligible === undefined || eligible[i];
      for (let i = 0; i < n; i++) {
        if (!ok(i)) continue;
        const otherClassExists = range(n).some((j) => ok(j) && labels[j] !== labels[i]);
        if (otherClassExists) expect(labels[p[i]]).not.toBe(labels[i]);
        else expect(p[i]).toBe(i);
      }
    }
  });

  it("'differentClass' repairs by swaps, so π stays a bijection where a cross-class one exists", () => {
    const rng = new Rng(10);
    let feasible = 0;
    let bijective = 0;
    for (let t = 0; t < 400; t++) {
      const n = 2 + rng.int(31);
      const labels = randomLabels(rng, n, 2 + rng.int(4));
      const pairing: Pairing = t % 2 === 0 ? 'permutation' : 'flip';
      const p = pairPartners(rng, labels, { pairing, pairs: 'differentClass' });
      // A cross-class bijection exists iff no class holds more than half of the batch.
      const counts = new Map<number, number>();
      for (const y of labels) counts.set(y, (counts.get(y) ?? 0) + 1);
      if (Math.max(...counts.values()) * 2 > n) continue;
      feasible++;
      if (sorted(p).join() === range(n).join()) bijective++;
    }
    expect(feasible).toBeGreaterThan(100);
    // Observed: every feasible batch (279 of 279 here); asserted loosely since it is not proven.
    expect(bijective / feasible).toBeGreaterThan(0.9);
  });

  it("'differentClass' keeps a balanced two-class batch a bijection across classes", () => {
    const labels = Int32Array.of(0, 0, 0, 0, 1, 1, 1, 1);
    for (let s = 0; s < 50; s++) {
      const p = pairPartners(new Rng(s), labels, { pairing: 'permutation', pairs: 'differentClass' });
      expect(sorted(p)).toEqual(range(8));
      for (let i = 0; i < 8; i++) expect(labels[p[i]]).not.toBe(labels[i]);
    }
  });

  it("'differentClass' leaves a single-class batch unmixed", () => {
    const p = pairPartners(new Rng(7), new Int32Array(9).fill(2), { pairing: 'permutation', pairs: 'differentClass' });
    expect([...p]).toEqual(range(9));
  });

  it('is deterministic per seed', () => {
    const labels = randomLabels(new Rng(8), 20, 3);
    const opts = { pairing: 'permutation', pairs: 'differentClass' } as const;
    expect(pairPartners(new Rng(9), labels, opts)).toEqual(pairPartners(new Rng(9), labels, opts));
  });

  it('validates its options, and needs labels for differentClass', () => {
    expect(() => pairPartners(new Rng(1), 4, { pairing: 'roll' as never, pairs: 'any' })).toThrow(/'permutation', 'flip'/);
    expect(() => pairPartners(new Rng(1), 4, { pairing: 'flip', pairs: 'other' as never })).toThrow(/'any', 'differentClass'/);
    expect(() => pairPartners(new Rng(1), 4, { pairing: 'flip', pairs: 'differentClass' })).toThrow(/needs labels/);
    expect(() => pairPartners(new Rng(1), 4, { pairing: 'flip', pairs: 'any', eligible: [true] })).toThrow(/eligible/);
  });
});
