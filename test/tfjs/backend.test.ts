import { describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, describeBackend } from '../../src/tfjs/backend.js';
import { nativePresent } from '../native.js';

describe('selectBackend', () => {
  // First in the file: the cpu backend must not have written a tensor yet, or there is no banner to mute.
  it('the cpu backend does not print TF.js\'s "running in Node.js" banner', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await selectBackend({ force: 'cpu' });
      tf.tidy(() => tf.add(tf.tensor([1, 2]), 1).dataSync());
      const said = [...warn.mock.calls, ...log.mock.calls].flat().join('\n');
      expect(said).not.toMatch(/looks like you are running TensorFlow\.js in Node/);
    } finally {
      warn.mockRestore();
      log.mockRestore();
    }
  });

  it('names missing optional packages only when verbose', async () => {
    const lines = async (verbose: boolean) => {
      await selectBackend({ force: 'cpu' }); // a different request, so the next one selects afresh
      const out: string[] = [];
      const info = await selectBackend({ force: '', verbose, log: (l) => out.push(l) });
      return { out, info };
    };
    const quiet = await lines(false);
    const loud = await lines(true);
    const absent = quiet.info.notices.filter((n) => / not available /.test(n));
    expect(quiet.out.filter((l) => / not available /.test(l))).toEqual([]);
    expect(loud.out).toEqual(loud.info.notices.map((n) => `notice: ${n}`));
    if (absent.length) expect(loud.out.length).toBeGreaterThan(0);
  });

  it('falls back past a missing tfjs-node to wasm, with a notice per skipped package', async () => {
    const info = await selectBackend({ force: '' });
    // tfjs-node(-gpu) cannot be installed offline; when it is absent the choice must be wasm.
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

  it.skipIf(nativePresent)('a forced tensorflow backend without tfjs-node is a clear error, not a silent fallback', async () => {
    await expect(selectBackend({ force: 'tensorflow' })).rejects.toThrow(/tensorflow was requested/);
  });
});
