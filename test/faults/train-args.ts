import type { TrainArgs } from '../../src/train/trainer.js';

/**
 * The training the killed child runs and the parent resumes: the same head, optimizer and seed; a
 * constant rate, so that the parent may resume with fewer epochs than the child's endless run.
 */
// Checkpoints after every epoch: the kills land between and inside saves.
export const CHILD_TRAIN_ARGS: TrainArgs = { head: 'mlp', hidden: 16, batchSize: 8, lr: 0.01, schedule: 'constant', seed: 11, mixup: { alpha: 0.4 }, checkpointEvery: 0 };
