/**
 * A deterministic, stratified hold-out split of a dataset (for a validation set when none is given).
 *
 * Stratified by each item's first label: every class gives round(n·fraction) of its n items to the
 * validation side, at least one when it has two or more, and always keeps one for training (a class
 * with a single item stays in training). Which items go is a seeded shuffle per class, drawn from
 * `new Rng(seed).fork('split:<class>')` (src/random.ts, the project's one generator), so a class's
 * split depends only on the seed and on that class's items: adding a class, or images of another
 * class, changes nothing elsewhere. Both sides keep the input order and the full class vocabulary.
 */
import { Rng } from '../random.js';
import type { DataItem, Dataset } from './types.js';

export interface DatasetSplit {
  train: Dataset;
  valid: Dataset;
}

/** How many of a class's n items the validation side gets. */
export function validCount(n: number, fraction: number): number {
  if (n < 2) return 0;
  return Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
}

export function split(dataset: Dataset, fraction: number, seed = 0): DatasetSplit {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`split fraction must be in (0, 1); got ${fraction}`);
  const root = new Rng(seed);
  const byClass = new Map<string, number[]>();
  dataset.items.forEach((item, i) => {
    const key = item.labels[0] ?? '';
    const list = byClass.get(key);
    if (list) list.push(i);
    else byClass.set(key, [i]);
  });
  const toValid = new Uint8Array(dataset.items.length);
  for (const [cls, list] of byClass) {
    const perm = root.fork(`split:${cls}`).permutation(list.length);
    const k = validCount(list.length, fraction);
    for (let j = 0; j < k; j++) toValid[list[perm[j]]] = 1;
  }
  const train: DataItem[] = [];
  const valid: DataItem[] = [];
  dataset.items.forEach((item, i) => (toValid[i] ? valid : train).push(item));
  // Skipped entries are reported once, with the training side.
  return { train: { ...dataset, items: train }, valid: { ...dataset, items: valid, skipped: [] } };
}
