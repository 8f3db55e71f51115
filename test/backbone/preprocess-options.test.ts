/**
 * Preprocessing options for every backbone (src/backbone/preprocess-options.ts): the ImageNet
 * preset resolves to its published statistics, bad values get one line naming the flag, and the
 * flags reach the cache header.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { NORMALIZE_PRESETS, preprocessOverridesSchema, resolvePreprocess } from '../../src/backbone/preprocess-options.js';
import { loadBackbone } from '../../src/backbone/index.js';
import { main } from '../../src/cli/main.js';
import { FeatureCache } from '../../src/cache/index.js';
import { tempDir } from '../tmp.js';

describe('resolvePreprocess', () => {
  it('imagenet is range [0, 1] then the ImageNet channel mean and std (torchvision and timm)', () => {
    expect(resolvePreprocess({ normalize: 'imagenet', size: 224 })).toEqual({ size: 224, range: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    // The preset's arrays are copies: a caller cannot change the table.
    const r = resolvePreprocess({ normalize: 'imagenet' });
    r.mean![0] = 9;
    expect(NORMALIZE_PRESETS.imagenet.mean[0]).toBe(0.485);
  });

  it('leaves explicit values alone', () => {
    expect(resolvePreprocess({ range: [-1, 1], fit: 'fill' })).toEqual({ range: [-1, 1], fit: 'fill' });
  });

  it('refuses a preset with an explicit range, mean or std', () => {
    expect(() => resolvePreprocess({ normalize: 'imagenet', std: [1, 1, 1] })).toThrow(/normalize imagenet sets range, mean and std itself: give it or std, not both/);
  });

  it('the schema refuses bad values with what is allowed', () => {
    const bad = (v: unknown) => {
      const r = preprocessOverridesSchema.safeParse(v);
      expect(r.success).toBe(false);
      return r.success ? '' : r.error.issues.map((i) => i.message).join('; ');
    };
    expect(bad({ std: [0.2, 0, 0.2] })).toBe('use three numbers > 0 (r,g,b)');
    expect(bad({ mean: [0.5, 0.5] })).toBe('use three numbers r,g,b');
    expect(bad({ range: [1, 0] })).toMatch(/^use two numbers low,high with low < high/);
    expect(bad({ range: [0, 1, 2] })).toMatch(/^use two numbers low,high/);
    expect(bad({ normalize: 'coco' })).toBe('use one of imagenet');
    expect(bad({ normalize: 'imagenet', mean: [0, 0, 0] })).toMatch(/give it or mean, not both/);
    expect(preprocessOverridesSchema.safeParse({ normalize: 'imagenet', size: 224, fit: 'cover' }).success).toBe(true);
  });

  it('the bundled backbone takes the flags too (recorded in its spec)', async () => {
    const b = await loadBackbone({ preprocess: { normalize: 'imagenet' } });
    try {
      expect(b.preprocess).toMatchObject({ size: 224, range: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    } finally {
      b.dispose();
    }
  });
});

/** Runs the CLI in this process; resolves with the exit code and what it wrote to stderr. */
async function cli(...args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    process.exitCode = undefined;
    const code = await main(['node', 'mixhead', ...args]);
    return { code, stderr };
  } finally {
    spy.mockRestore();
    out.mockRestore();
    process.exitCode = undefined;
  }
}

describe('precompute flags --normalize, --range, --mean, --std', () => {
  const FIX = path.resolve('test/fixtures/onnx');
  let data = '';
  let dir = '';
  beforeAll(async () => {
    dir = await tempDir('pre-flags');
    data = path.join(dir, 'data');
    await fs.mkdir(path.join(data, 'a'), { recursive: true });
    await fs.copyFile(path.join(FIX, 'images', 'img0.png'), path.join(data, 'a', 'img0.png'));
  });
  const onnx = ['--backbone', path.join(FIX, 'tiny-resnet.onnx'), '--node', '/layer2/relu_1/Relu'];

  it('reach the cache header', async () => {
    const cache = path.join(dir, 'c1');
    const r = await cli('precompute', '--data', data, '--cache', cache, ...onnx, '--range', '-1,1', '--mean', '0.5,0.5,0.5', '--std', '0.25,0.25,0.25');
    expect(r.stderr).not.toMatch(/mixhead:/);
    expect(r.code).toBe(0);
    const c = FeatureCache.open(cache, { readonly: true });
    expect(c.header.preprocess).toMatchObject({ range: [-1, 1], mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
    await c.close();
    const cache2 = path.join(dir, 'c2');
    expect((await cli('precompute', '--data', data, '--cache', cache2, ...onnx, '--normalize', 'imagenet')).code).toBe(0);
    const c2 = FeatureCache.open(cache2, { readonly: true });
    expect(c2.header.preprocess).toMatchObject({ range: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    await c2.close();
  });

  it('bad values: exit 2 with one line naming the flag', async () => {
    const cache = path.join(dir, 'bad');
    const std = await cli('precompute', '--data', data, '--cache', cache, ...onnx, '--std', '0,1,1');
    expect(std.code).toBe(2);
    expect(std.stderr.trim()).toBe('mixhead: --std 0,1,1: use three numbers > 0 (r,g,b)');
    const range = await cli('precompute', '--data', data, '--cache', cache, ...onnx, '--range', '1,0');
    expect(range.code).toBe(2);
    expect(range.stderr.trim()).toMatch(/^mixhead: --range 1,0: use two numbers low,high with low < high/);
    const both = await cli('precompute', '--data', data, '--cache', cache, ...onnx, '--normalize', 'imagenet', '--mean', '0,0,0');
    expect(both.code).toBe(2);
    expect(both.stderr.trim().split('\n')).toHaveLength(1);
    expect(both.stderr).toMatch(/normalize imagenet sets range, mean and std itself/);
    const preset = await cli('precompute', '--data', data, '--cache', cache, ...onnx, '--normalize', 'coco');
    expect(preset.stderr.trim()).toBe('mixhead: --normalize coco: use one of imagenet');
  });
});
