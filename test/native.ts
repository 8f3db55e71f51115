/**
 * Whether `@tensorflow/tfjs-node` is installed. It cannot be here (its install downloads
 * libtensorflow), so tests of the path without it run; where it is installed they are skipped and
 * vitest says so, rather than passing with nothing checked.
 */
export const nativePresent: boolean = await import('@tensorflow/tfjs-node' as string).then(
  () => true,
  () => false,
);
