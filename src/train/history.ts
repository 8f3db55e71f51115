/** What the training loop records after each epoch (report.json's `history`, `onEpoch`). */
export interface EpochRecord {
  epoch: number;
  lr: number;
  /** Mean training loss on the mixed batches, as optimised. */
  mixedLoss: number;
  /** Loss on the unmixed training set (or a fixed subset, see `cleanSample`), inference mode: comparable to the validation loss. */
  cleanLoss: number;
  validLoss?: number;
  metric?: { name: string; value: number };
  seconds: number;
  samplesPerSecond: number;
  numTensors: number;
}
