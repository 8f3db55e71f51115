import { describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { compareHeaders, makeHeader } from '../../src/cache/index.js';
import { readMeta } from '../../src/train/export.js';
import { exportWeb } from '../../src/jobs/export-web.js';
import { tempDir } from '../tmp.js';

const init = {
  backbone: { id: 'bundled-mobilenet-v2', weightsHash: 'ab', cut: 'out_relu', kind: 'layers' as const },
  preprocess: { size: 224, range: [0, 1] as [number, number], fit: 'cover' as const },
  featureShape: [7, 7, 1280],
  dtype: 'float32' as const,
  classes: ['a', 'b'],
  multiLabel: false,
};

describe('the resize kernel is recorded', () => {
  it('a new cache header names the kernel; one written before kernels had names is told apart', () => {
    const now = makeHeader(init);
    expect(now.preprocess.kernel).toBe('triangle');
    const old = { ...now, preprocess: { size: 224, range: [0, 1] as [number, number], fit: 'cover' as const } };
    expect(compareHeaders(old, now)).toEqual(['resize kernel differs: sharp-linear vs triangle']);
    expect(compareHeaders(makeHeader({ ...init, preprocess: { ...init.preprocess, kernel: 'sharp-linear' } }), old)).toEqual([]);
    const future = { ...init, preprocess: { ...init.preprocess, kernel: 'lanczos9' as 'triangle' } };
    expect(() => makeHeader(future)).toThrow(/preprocess.kernel must be one of triangle, sharp-linear, got "lanczos9"/);
  });

  it('meta.json without a kernel reads as sharp-linear, and export --web refuses it with the way out', async () => {
    const dir = await tempDir('kernel-meta');
    await mkdir(path.join(dir, 'combined'));
    const meta = { format: 'mixhead-model', version: 1, classes: ['a'], multiLabel: false, threshold: 0.5, head: 'linear', featureShape: [7, 7, 1280], backbone: init.backbone, preprocess: init.preprocess, combined: true, createdAt: '' };
    await writeFile(path.join(dir, 'meta.json'), JSON.stringify(meta));
    expect((await readMeta(dir)).preprocess.kernel).toBe('sharp-linear');
    await expect(exportWeb({ model: dir, out: path.join(dir, 'web') })).rejects.toThrow(/'sharp-linear', which a browser cannot reproduce; re-run mixhead precompute and train/);
    await writeFile(path.join(dir, 'meta.json'), JSON.stringify({ ...meta, combined: false, preprocess: { ...init.preprocess, kernel: 'triangle' } }));
    await expect(exportWeb({ model: dir, out: path.join(dir, 'web') })).rejects.toThrow(/has no combined model/);
    await writeFile(path.join(dir, 'meta.json'), JSON.stringify({ ...meta, preprocess: { ...init.preprocess, kernel: 'lanczos9' } }));
    await expect(readMeta(dir)).rejects.toThrow(/unknown resize kernel "lanczos9"/);
  });
});
