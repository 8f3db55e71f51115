import { describe, expect, it } from 'vitest';
import { split, validCount } from '../../src/data/split.js';
import type { Dataset } from '../../src/data/types.js';

function dataset(counts: Record<string, number>): Dataset {
  const items = Object.entries(counts).flatMap(([cls, k]) => Array.from({ length: k }, (_, j) => ({ id: `${cls}/${j}.png`, source: `/x/${cls}/${j}.png`, labels: [cls] })));
  // Interleave classes so the split cannot lean on the input order.
  items.sort((a, b) => (a.id.split('/')[1] < b.id.split('/')[1] ? -1 : 1));
  return { root: '/x', items, classes: Object.keys(counts).sort(), multiLabel: false, skipped: [{ source: '/x/bad.txt', reason: 'not an image file (.txt)' }] };
}
const ids = (d: Dataset) => d.items.map((i) => i.id);
const perClass = (d: Dataset) => d.items.reduce<Record<string, number>>((m, i) => ({ ...m, [i.labels[0]]: (m[i.labels[0]] ?? 0) + 1 }), {});

describe('split', () => {
  const ds = dataset({ cat: 40, dog: 20, eel: 7, fox: 2, gnu: 1 });

  it('is stratified: each class gives round(n·fraction) to validation, at least one when it has two', () => {
    const { train, valid } = split(ds, 0.25, 7);
    expect(perClass(valid)).toEqual({ cat: 10, dog: 5, eel: 2, fox: 1 });
    expect(perClass(train)).toEqual({ cat: 30, dog: 15, eel: 5, fox: 1, gnu: 1 });
    expect([0, 1, 2, 3, 10].map((n) => validCount(n, 0.5))).toEqual([0, 0, 1, 2, 5]); // Math.round(1.5) = 2
    expect(validCount(3, 0.99)).toBe(2); // one is always left to train on
  });

  it('is disjoint, covers everything, and keeps input order and the vocabulary', () => {
    const { train, valid } = split(ds, 0.3, 1);
    const all = [...ids(train), ...ids(valid)];
    expect(new Set(all).size).toBe(ds.items.length);
    expect(all.sort()).toEqual(ids(ds).sort());
    const order = (d: Dataset) => ids(d).map((id) => ids(ds).indexOf(id));
    expect(order(train)).toEqual([...order(train)].sort((a, b) => a - b));
    expect(order(valid)).toEqual([...order(valid)].sort((a, b) => a - b));
    expect(train.classes).toEqual(ds.classes);
    expect(valid.classes).toEqual(ds.classes);
    expect(train.skipped).toHaveLength(1);
    expect(valid.skipped).toHaveLength(0);
  });

  it('is deterministic by seed, and different seeds choose differently', () => {
    expect(ids(split(ds, 0.25, 42).valid)).toEqual(ids(split(ds, 0.25, 42).valid));
    expect(ids(split(ds, 0.25, 42).valid)).not.toEqual(ids(split(ds, 0.25, 43).valid));
  });

  it("a class's split does not depend on the other classes", () => {
    const catOnly = (d: Dataset) => ids(d).filter((id) => id.startsWith('cat/'));
    const more = dataset({ cat: 40, dog: 20, eel: 7, fox: 2, gnu: 1, yak: 13 });
    expect(catOnly(split(more, 0.25, 5).valid)).toEqual(catOnly(split(ds, 0.25, 5).valid));
  });

  it('refuses a fraction outside (0, 1)', () => {
    for (const f of [0, 1, -0.1, Number.NaN]) expect(() => split(ds, f, 0)).toThrow(/fraction must be in \(0, 1\)/);
  });
});
