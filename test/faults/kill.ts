/** Kill loops shared by the fault tests and their longer runs under test/slow. */
import { expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { Rng } from '../../src/base/random.js';

/** Starts the checkpoint-writing child; kills it `killAfterMs` after its first "saved" line. */
function saveAndKill(dir: string, killAfterMs: number): Promise<{ signal: NodeJS.Signals | null; saved: number }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'test/faults/ckpt-loop-child.ts', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let saved = 0;
    let timer: NodeJS.Timeout | undefined;
    p.stdout.on('data', (d: Buffer) => {
      saved += (String(d).match(/saved \d+/g) ?? []).length;
      timer ??= setTimeout(() => p.kill('SIGKILL'), killAfterMs);
    });
    const guard = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('exit', (_code, signal) => {
      clearTimeout(timer);
      clearTimeout(guard);
      resolve({ signal, saved });
    });
  });
}

/** Kills the checkpoint-writing child `kills` times; after each, the checkpoint must be one whole save. */
export async function killDuringWrites(dir: string, kills: number, seed: number): Promise<void> {
  const rng = new Rng(seed);
  let last = 0;
  for (let k = 0; k < kills; k++) {
    const r = await saveAndKill(dir, rng.int(400));
    expect(r.signal).toBe('SIGKILL');
    const ck = await loadCheckpoint<{ n: number }>(dir, 'last');
    expect(ck, `kill ${k}: ${(await readdir(dir)).join(', ')}`).toBeDefined();
    const n = ck!.state.n;
    expect(n).toBeGreaterThanOrEqual(last);
    last = n;
    // The weights are the ones saved with this state, every value: never half of another save.
    const a = tf.variable(tf.zeros([1000, 1000]));
    const b = tf.variable(tf.zeros([1000]));
    const vars = [a, b].map((v) => ({ name: v.name, shape: v.shape, read: () => v, write: (t: tf.Tensor) => v.assign(t) })) as unknown as tf.LayerVariable[];
    await ck!.restore(vars, null);
    expect(a.dataSync().every((x) => x === n) && b.dataSync().every((x) => x === n)).toBe(true);
    a.dispose();
    b.dispose();
    // At most the killed writer's own temporary folder is left (the next save clears it).
    expect((await readdir(dir)).filter((f) => f.includes('.tmp-')).length).toBeLessThanOrEqual(1);
  }
}

