/**
 * Trains forever with checkpoints, resuming from OUT's last checkpoint: the parent kills it with
 * SIGKILL at random moments. Prints "epoch N" after each epoch (its checkpoints are then written).
 *   node --import tsx test/faults/train-child.ts OUT
 */
import { selectBackend } from '../../src/tfjs/backend.js';
import { trainHead } from '../../src/train/trainer.js';
import { synthetic } from './synthetic.js';
import { CHILD_TRAIN_ARGS } from './train-args.js';

await selectBackend({ force: 'wasm' });
const out = process.argv[2]!;
await trainHead(synthetic(48), synthetic(24, undefined, undefined, 9), { ...CHILD_TRAIN_ARGS, out, resume: true, epochs: 1_000_000, onEpoch: (e) => process.stdout.write(`epoch ${e.epoch}\n`) });
