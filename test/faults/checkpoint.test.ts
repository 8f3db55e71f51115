/**
 * Checkpoints under faults: SIGKILL at random moments while a child trains and checkpoints in a
 * loop, and crashes injected between the renames of a save.
 */
import { describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { mkdir, readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../tmp.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { trainHead } from '../../src/train/trainer.js';
import { disposeHead } from '../../src/train/heads.js';
import { Rng } from '../../src/base/random.js';
import { synthetic } from './synthetic.js';
import { killDuringWrites } from './kill.js';
import { CHILD_TRAIN_ARGS } from './train-args.js';

interface State {
  epoch: number;
  history: unknown[];
}

/** Starts the training child; kills it `killAfterMs` after its first "epoch" line. */
function trainAndKill(out: string, killAfterMs: number): Promise<{ signal: NodeJS.Signals | null; epochsSeen: number; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'test/faults/train-child.ts', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let epochsSeen = 0;
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    p.stdout.on('data', (d: Buffer) => {
      epochsSeen += (String(d).match(/epoch \d+/g) ?? []).length;
      timer ??= setTimeout(() => p.kill('SIGKILL'), killAfterMs);
    });
    p.stderr.on('data', (d) => (stderr += d));
    // Never wait forever: a child that cannot start is killed too (and the test then fails on epochsSeen).
    const guard = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('exit', (_code, signal) => {
      clearTimeout(timer);
      clearTimeout(guard);
      resolve({ signal, epochsSeen, stderr });
    });
  });
}

const tmpLeftovers = async (dir: string) => (await readdir(dir)).filter((n) => n.includes('.tmp-'));

describe('checkpoints under SIGKILL', () => {
  it('a child killed at random moments of training-with-checkpoints always leaves a whole checkpoint that resumes', async () => {
    const out = await tempDir('ckpt-kill');
    const ckpt = path.join(out, 'checkpoints');
    const rng = new Rng(77);
    const train = synthetic(48);
    const valid = synthetic(24, undefined, undefined, 9);
    let lastEpoch = 0;
    for (let k = 0; k < 4; k++) {
      // Epochs take a few ms here: a delay of 0–250 ms lands anywhere in the loop, mid-write included.
      const r = await trainAndKill(out, rng.int(250));
      expect(r.signal, r.stderr).toBe('SIGKILL');
      expect(r.epochsSeen).toBeGreaterThan(0);
      const ck = await loadCheckpoint<State>(ckpt, 'last');
      expect(ck, `no whole checkpoint after kill ${k}: ${(await readdir(ckpt)).join(', ')}`).toBeDefined();
      const state = ck!.state;
      // Whole: the loop state matches itself and never goes back.
      expect(state.history).toHaveLength(state.epoch);
      expect(state.epoch).toBeGreaterThanOrEqual(lastEpoch);
      // …and the training continues from it: restore checks every weight's count and shape.
      const r2 = await trainHead(train, valid, { ...CHILD_TRAIN_ARGS, out, resume: true, epochs: state.epoch + 1 });
      expect(r2.resumedFrom).toBe(state.epoch);
      expect(r2.history).toHaveLength(state.epoch + 1);
      expect(r2.history.every((e) => Number.isFinite(e.mixedLoss) && Number.isFinite(e.cleanLoss))).toBe(true);
      disposeHead(r2.head);
      lastEpoch = state.epoch + 1;
      // The killed child's temporary folders were cleared by the resumed run's saves.
      expect(await tmpLeftovers(ckpt)).toEqual([]);
    }
  });
});

describe('checkpoints under SIGKILL mid-write', () => {
  it('a child writing 4 MB checkpoints in a loop, killed at random moments: the checkpoint read is always one whole save', async () => {
    await killDuringWrites(await tempDir('ckpt-loop'), 4, 5);
  });
});

describe('checkpoint saves under injected crashes', () => {
  const weights = () => {
    const v = tf.variable(tf.tensor1d([1, 2, 3]), true);
    return { v, layerVar: [{ name: 'w', shape: [3], read: () => v, write: (t: tf.Tensor) => v.assign(t) }] as unknown as tf.LayerVariable[] };
  };

  it('a crash between the two renames, then another during the next save, still leaves the older checkpoint', async () => {
    const dir = await tempDir('ckpt-crash');
    const { v, layerVar } = weights();
    await saveCheckpoint(dir, 'last', { epoch: 1 }, layerVar, null);
    // Killed after `last` → `last.old` but before `tmp` → `last`: only last.old is there.
    await rename(path.join(dir, 'last'), path.join(dir, 'last.old'));
    expect((await loadCheckpoint<{ epoch: number }>(dir, 'last'))?.state.epoch).toBe(1);
    // The next save is killed just before its new folder is renamed into place.
    v.assign(tf.tensor1d([4, 5, 6]));
    const real = fsp.rename.bind(fsp);
    const spy = vi.spyOn(fsp, 'rename').mockImplementation(async (from, to) => {
      if (String(from).includes('.tmp-') && String(to).endsWith(`${path.sep}last`)) throw Object.assign(new Error('killed'), { code: 'EINTR' });
      return real(from, to);
    });
    try {
      await expect(saveCheckpoint(dir, 'last', { epoch: 2 }, layerVar, null)).rejects.toThrow('killed');
    } finally {
      spy.mockRestore();
    }
    const ck = await loadCheckpoint<{ epoch: number }>(dir, 'last');
    expect(ck?.state.epoch).toBe(1);
    v.assign(tf.zeros([3]));
    await ck!.restore(layerVar, null);
    expect(Array.from(v.dataSync())).toEqual([1, 2, 3]);
    // A save that completes puts the new one in place and leaves no temporary behind.
    v.assign(tf.tensor1d([7, 8, 9]));
    await saveCheckpoint(dir, 'last', { epoch: 3 }, layerVar, null);
    expect((await loadCheckpoint<{ epoch: number }>(dir, 'last'))?.state.epoch).toBe(3);
    expect((await readdir(dir)).sort()).toEqual(['last']);
    v.dispose();
  });

  it('a torn weights file is never loaded: the previous checkpoint is used, or none', async () => {
    const dir = await tempDir('ckpt-torn');
    const { v, layerVar } = weights();
    await saveCheckpoint(dir, 'older', { epoch: 1 }, layerVar, null);
    await saveCheckpoint(dir, 'last', { epoch: 2 }, layerVar, null);
    // Make last torn (shorter weights than state.json says), with a whole older one as last.old.
    await fsp.truncate(path.join(dir, 'last', 'weights.bin'), 4);
    await rename(path.join(dir, 'older'), path.join(dir, 'last.old'));
    expect((await loadCheckpoint<{ epoch: number }>(dir, 'last'))?.state.epoch).toBe(1);
    await fsp.rm(path.join(dir, 'last.old'), { recursive: true });
    expect(await loadCheckpoint(dir, 'last')).toBeUndefined();
    v.dispose();
  });

  it('temporary folders of dead writers are removed by the next save; a live writer\'s are left alone', async () => {
    const dir = await tempDir('ckpt-stale');
    const { v, layerVar } = weights();
    // A pid that cannot be running (above the kernel's pid_max of 2^22).
    await mkdir(path.join(dir, 'last.tmp-99999999'));
    await mkdir(path.join(dir, `last.tmp-${process.ppid}`));
    await saveCheckpoint(dir, 'last', { epoch: 1 }, layerVar, null);
    expect((await readdir(dir)).sort()).toEqual(['last', `last.tmp-${process.ppid}`]);
    v.dispose();
  });
});
