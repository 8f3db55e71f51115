/**
 * How raw RGB pixels become the backbone's input. Pixels are first scaled to `range`
 * (0..255 → range[0]..range[1]); then, if given, `(x − mean[c]) / std[c]` per channel.
 */
export interface PreprocessSpec {
  /** Square input side in pixels (224 for the MobileNets). */
  size: number;
  /** Pixel value range after scaling, e.g. [0, 1] or [-1, 1]. */
  range: [number, number];
  /** Per-channel mean subtracted after scaling (RGB order). */
  mean?: [number, number, number];
  /** Per-channel standard deviation divided after the mean. */
  std?: [number, number, number];
  /**
   * How the image is brought to size×size: `cover` (default) resizes the shorter side and crops the
   * centre; `contain` letterboxes on black; `fill` stretches.
   */
  fit: 'cover' | 'contain' | 'fill';
  /**
   * Resize kernel (src/preprocess/index.ts): `triangle` (the default in memory; the same code runs in
   * browsers) or `sharp-linear` (libvips', what caches and models that name no kernel were made with).
   */
  kernel?: 'triangle' | 'sharp-linear';
}
