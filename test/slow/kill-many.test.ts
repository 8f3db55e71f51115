/** The checkpoint kill loop of test/faults/checkpoint.test.ts, 25 kills instead of 4. Behind `npm run test:slow`. */
import { describe, it } from 'vitest';
import { tempDir } from '../tmp.js';
import { killDuringWrites } from '../faults/kill.js';

describe.skipIf(!process.env.MIXHEAD_SLOW)('checkpoints under many SIGKILLs', () => {
  it('25 kills at random moments of a checkpoint-writing loop: every read is one whole save', async () => {
    await killDuringWrites(await tempDir('ckpt-many'), 25, 2026);
  }, 600_000);
});
