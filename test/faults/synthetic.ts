import { memoryFeatureSet, type FeatureSet } from '../../src/train/features.js';

/** Separable synthetic maps: class c lights up channels [2c, 2c+1], plus noise (seeded LCG). */
export function synthetic(n: number, shape = [2, 2, 8], classes = ['a', 'b', 'c'], seed = 1): FeatureSet {
  let s = seed >>> 0;
  const rand = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const [h, w, c] = shape;
  const maps = new Float32Array(n * h * w * c);
  const labels: string[][] = [];
  for (let i = 0; i < n; i++) {
    const y = i % classes.length;
    labels.push([classes[y]]);
    for (let p = 0; p < h * w; p++) {
      for (let ch = 0; ch < c; ch++) maps[(i * h * w + p) * c + ch] = rand() * 0.5 + (Math.floor(ch / 2) === y ? 1.5 * rand() + 0.5 : 0);
    }
  }
  return memoryFeatureSet({ maps, featureShape: shape, labels, classes });
}
