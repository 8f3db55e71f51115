import type { FeatureSet } from '../../src/train/features.js';
import { synthetic as separable } from '../fixtures/synthetic.js';

/** The shared separable maps, 2×2×8 by default (small and fast for fault tests). */
export function synthetic(n: number, shape = [2, 2, 8], classes = ['a', 'b', 'c'], seed = 1): FeatureSet {
  return separable(n, shape, classes, seed);
}
