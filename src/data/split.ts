/**
 * A deterministic, stratified hold-out split of a dataset (for a validation set when none is given).
 *
 * Stratified by each item's first label: every class gives round(n·fraction) of its n items to the
 * validation side, at least one when it has two or more, and always keeps one for training (a class
 * with a single item stays in training). Which items go is a seeded shuffle per class, drawn from
 * `new Rng(seed).fork('split:<class>')` (src/base/random.ts, the project's one generator), so a class's
 * split depends only on the seed and on that class's items: adding a class, or images of another
 * class, changes nothing elsewhere. Both sides keep the input order and the full class vocabulary.
 */
import { Rng } from '../base/random.js';
import type { Dataset } from './types.js';

export interface DatasetSplit {
  train: Dataset;
  valid: Dataset;
}

/** How many of a class's n items the validation side gets. */
export function validCount(n: number, fraction: number): number {
  if (n < 2) return 0;
  return Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
}

/**
 * The stratified split itself, on one key per sample (its first label, or its class index):
 * indices of the training and validation sides, each in ascending order.
 */
export function stratifiedIndices(keys: ArrayLike<string | number>, fraction: number, seed = 0): { train: Int32Array; valid: Int32Array } {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`split fraction must be in (0, 1); got ${fraction}`);
  const root = new Rng(seed);
  const byClass = new Map<string, number[]>();
  for (let i = 0; i < keys.length; i++) {
    const key = String(keys[i]);
    const list = byClass.get(key);
    if (list) list.push(i);
    else byClass.set(key, [i]);
  }
  const toValid = new Uint8Array(keys.length);
  for (const [cls, list] of byClass) {
    const perm = root.fork(`split:${cls}`).permutation(list.length);
    const k = validCount(list.length, fraction);
    for (let j = 0; j < k; j++) toValid[list[perm[j]]] = 1;
  }
  const train: number[] = [];
  const valid: number[] = [];
  toValid.forEach((v, i) => (v ? valid : train).push(i));
  return { train: Int32Array.from(train), valid: Int32Array.from(valid) };
}

export function split(dataset: Dataset, fraction: number, seed = 0): DatasetSplit {
  const { train, valid } = stratifiedIndices(
    dataset.items.map((item) => item.labels[0] ?? ''),
    fraction,
    seed,
  );
  // Skipped entries are reported once, with the training side.
  return {
    train: { ...dataset, items: Array.from(train, (i) => dataset.items[i]) },
    valid: { ...dataset, items: Array.from(valid, (i) => dataset.items[i]), skipped: [] },
  };
}
