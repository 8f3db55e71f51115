import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, describeBackend } from '../src/backend.js';

describe('selectBackend', () => {
  it('falls back past a missing tfjs-node to wasm, with a notice per skipped package', async () => {
    const info = await selectBackend({ force: '' });
    // tfjs-node(-gpu) cannot be installed offline; when it is absent the choice must be wasm.
    let nativePresent = true;
    try {
      await import('@tensorflow/tfjs-node' as string);
    } catch {
      nativePresent = false;
    }
    if (!nativePresent) {
      expect(info.name).toBe('wasm');
      expect(info.notices.some((n) => n.includes('@tensorflow/tfjs-node'))).toBe(true);
    }
    expect(tf.getBackend()).toBe(info.name);
    expect(describeBackend(info)).toContain(info.name);
  });

  it('forces cpu and wasm by name', async () => {
    expect((await selectBackend({ force: 'cpu' })).name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect((await selectBackend({ force: 'wasm' })).name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('rejects an unknown backend naming the valid ones', async () => {
    await expect(selectBackend({ force: 'webgpu' })).rejects.toThrow(/tensorflow, wasm, cpu/);
  });

  it('a forced tensorflow backend without tfjs-node is a clear error, not a silent fallback', async () => {
    let nativePresent = true;
    try {
      await import('@tensorflow/tfjs-node' as string);
    } catch {
      nativePresent = false;
    }
    if (nativePresent) return;
    await expect(selectBackend({ force: 'tensorflow' })).rejects.toThrow(/tensorflow was requested/);
  });
});
