/**
 * The ONNX file backbone (src/engine/onnx-file.ts): a PyTorch export runs on ONNX Runtime, cut at
 * a node, and gives PyTorch's own maps (test/fixtures/onnx/expected.json, written by
 * scripts/onnx-fixture.py) within 1e-4; bad models are refused with one line naming the file.
 */
import { describe, expect, it, afterAll } from 'vitest';
import { createHash } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadBackbone, type Backbone } from '../../src/backbone/index.js';
import { decodeImage } from '../../src/data/image.js';
import { engineOf, extractFeatures, inspectOnnx, OnnxFileBackbone, openBackbone, useEngine } from '../../src/engine/index.js';
import { tempDir } from '../tmp.js';
import { flatOnly, greyInput, rank2Input, tinyModel, unknownOp } from '../fixtures/onnx-models.js';

const FIX = path.resolve('test/fixtures/onnx');
const RESNET = path.join(FIX, 'tiny-resnet.onnx');
const NHWC = path.join(FIX, 'tiny-resnet-nhwc.onnx');
const CUT = '/layer2/relu_1/Relu';
const expected = JSON.parse(readFileSync(path.join(FIX, 'expected.json'), 'utf8')) as {
  size: number;
  mean: number[];
  std: number[];
  featureShape: number[];
  images: { image: string; maps: number[] }[];
};

const open: Backbone[] = [];
afterAll(() => open.forEach((b) => b.dispose()));
async function load(args: Parameters<typeof openBackbone>[0]): Promise<Backbone> {
  const b = await openBackbone(args);
  open.push(b);
  return b;
}

async function pixelsOf(b: Backbone): Promise<Float32Array> {
  const px = b.preprocess.size * b.preprocess.size * 3;
  const all = new Float32Array(expected.images.length * px);
  for (const [i, e] of expected.images.entries()) all.set(await decodeImage(path.join(FIX, e.image), b.preprocess), i * px);
  return all;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A one-line error (no stack, no second line) that matches `pattern`. */
async function refusal(p: Promise<unknown>, pattern: RegExp): Promise<string> {
  const err = (await p.then(() => undefined, (e: unknown) => e)) as Error | undefined;
  expect(err, 'expected a refusal').toBeInstanceOf(Error);
  expect(err!.message.split('\n')).toHaveLength(1);
  expect(err!.message).toMatch(pattern);
  return err!.message;
}

describe('ONNX file backbone: PyTorch export (NCHW, dynamic batch)', () => {
  it('cut at the last block with ImageNet normalisation, gives PyTorch maps within 1e-4 as H×W×C', async () => {
    const b = await load({ backbone: RESNET, node: CUT, preprocess: { normalize: 'imagenet' } });
    expect(b).toBeInstanceOf(OnnxFileBackbone);
    expect(b.kind).toBe('onnx');
    expect(b.featureShape).toEqual(expected.featureShape);
    expect(b.preprocess).toMatchObject({ size: 64, range: [0, 1], mean: expected.mean, std: expected.std });
    const maps = await extractFeatures(b, await pixelsOf(b), expected.images.length);
    const want = expected.images.flatMap((e) => e.maps);
    const d = maxDiff(maps, want);
    expect(d).toBeLessThan(1e-4);
    // Not trivially small maps: the comparison has something to compare.
    expect(Math.max(...want.map(Math.abs))).toBeGreaterThan(0.5);
  });

  it('gives the same maps one image at a time as in a batch', async () => {
    const b = await load({ backbone: RESNET, node: CUT, preprocess: { normalize: 'imagenet' } });
    const px = await pixelsOf(b);
    const n = b.featureShape.reduce((x, y) => x * y, 1);
    const batch = await extractFeatures(b, px, 3);
    const one = await extractFeatures(b, px.slice(px.length / 3, (2 * px.length) / 3), 1);
    expect(maxDiff(one, batch.subarray(n, 2 * n))).toBeLessThan(1e-5);
  });

  it('without ImageNet normalisation the maps differ (the preprocessing reaches the model)', async () => {
    const b = await load({ backbone: RESNET, node: CUT, preprocess: { range: [0, 1] } });
    const maps = await extractFeatures(b, await pixelsOf(b), expected.images.length);
    expect(maxDiff(maps, expected.images.flatMap((e) => e.maps))).toBeGreaterThan(0.05);
  });

  it('accepts the tensor name as well as the node name, and the identity is the file sha256', async () => {
    const b = await load({ backbone: RESNET, node: '/layer2/relu_1/Relu_output_0', preprocess: { normalize: 'imagenet' } });
    expect(b.cut).toBe('/layer2/relu_1/Relu_output_0');
    expect(b.id).toBe(`onnx:${RESNET}`);
    expect(b.weightsHash).toBe(createHash('sha256').update(readFileSync(RESNET)).digest('hex'));
  });

  it('a folder with model.onnx and backbone.json takes its preprocessing and cut from the sidecar', async () => {
    const dir = await tempDir('onnx-sidecar');
    await fs.copyFile(RESNET, path.join(dir, 'model.onnx'));
    await fs.writeFile(path.join(dir, 'backbone.json'), JSON.stringify({ normalize: 'imagenet', node: CUT, description: 'tiny test ResNet' }));
    const b = await load({ backbone: dir });
    expect(b.cut).toBe(`${CUT}_output_0`);
    const maps = await extractFeatures(b, await pixelsOf(b), expected.images.length);
    expect(maxDiff(maps, expected.images.flatMap((e) => e.maps))).toBeLessThan(1e-4);
  });

  it('--inspect lists the 4-D cut points with their shapes at the input size', async () => {
    const r = await inspectOnnx(RESNET);
    expect(r.input).toMatchObject({ name: 'input', layout: 'NCHW' });
    expect(r.size).toBe(64);
    const last = r.cutPoints.find((c) => c.node === CUT);
    expect(last).toMatchObject({ tensor: `${CUT}_output_0`, shape: [1, 16, 8, 8], featureShape: [8, 8, 16] });
    expect(r.cutPoints.find((c) => c.node === '/stem/stem.3/MaxPool')?.featureShape).toEqual([16, 16, 8]);
    // Flatten and Gemm are 2-D: not cut points.
    expect(r.cutPoints.some((c) => c.op === 'Gemm' || c.op === 'Flatten')).toBe(false);
  });
});

describe('ONNX file backbone: fixed batch 1, NHWC', () => {
  it('runs three images as three runs and agrees with PyTorch within 1e-4', async () => {
    const b = await load({ backbone: NHWC, preprocess: { normalize: 'imagenet' } });
    expect((b as OnnxFileBackbone).layout).toBe('NHWC');
    expect((b as OnnxFileBackbone).session.fixedBatch).toBe(1);
    expect(b.featureShape).toEqual([8, 8, 16]);
    const maps = await extractFeatures(b, await pixelsOf(b), 3);
    expect(maxDiff(maps, expected.images.flatMap((e) => e.maps))).toBeLessThan(1e-4);
  });
});

describe('ONNX file backbone: refusals, one line each', () => {
  const write = async (name: string, bytes: Uint8Array | string) => {
    const dir = await tempDir('onnx-bad');
    const file = path.join(dir, name);
    await fs.writeFile(file, bytes);
    return file;
  };

  it('a file that is not ONNX', async () => {
    const file = await write('notes.onnx', 'these are not the weights you are looking for\n');
    await refusal(openBackbone({ backbone: file }), new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not an ONNX model`));
  });

  it('a model whose output is not 4-D names the last 4-D cut points', async () => {
    const m = await refusal(openBackbone({ backbone: RESNET, preprocess: { normalize: 'imagenet' } }), /its output logits is 2-D \[1, 5\], not a 4-D map; cut with --node, e\.g\./);
    expect(m).toContain(`${CUT} (8×8×16)`);
  });

  it('a model with no 4-D output anywhere', async () => {
    const file = await write('flat.onnx', flatOnly());
    await refusal(openBackbone({ backbone: file, preprocess: { size: 8 } }), /no node has a 4-D output .*not a convolutional image backbone/);
  });

  it('a cut node that does not exist names the closest ones', async () => {
    const m = await refusal(openBackbone({ backbone: RESNET, node: '/layer2/relu1/Relu' }), /no node or tensor named "\/layer2\/relu1\/Relu"; closest: /);
    expect(m).toContain('"/layer2/relu_1/Relu"');
  });

  it('an input of the wrong rank', async () => {
    const file = await write('rank2.onnx', rank2Input());
    await refusal(openBackbone({ backbone: file }), /input x has rank 2 \[batch, 10\]; an image backbone takes \[batch, 3, H, W\]/);
  });

  it('an input with one channel', async () => {
    const file = await write('grey.onnx', greyInput());
    await refusal(openBackbone({ backbone: file }), /input x is \[batch, 1, 8, 8\]: it has 1 channels \(NCHW\) or 8 \(NHWC\), not 3/);
  });

  it('an operator ONNX Runtime cannot run', async () => {
    const file = await write('sparkle.onnx', unknownOp());
    await refusal(openBackbone({ backbone: file, preprocess: { size: 8 } }), /ONNX Runtime cannot run this model: .*Sparkle/);
  });

  it('a dynamic input size without --size, and a --size the model cannot take', async () => {
    const file = await write('dynamic.onnx', tinyModel(['batch', 3, 'h', 'w'], [{ op: 'Relu', inputs: ['x'], output: 'y' }], 'y'));
    await refusal(openBackbone({ backbone: file }), /input x has a dynamic size; give --size/);
    const b = await load({ backbone: file, preprocess: { size: 12 } });
    expect(b.featureShape).toEqual([12, 12, 3]);
    await refusal(openBackbone({ backbone: RESNET, node: CUT, preprocess: { size: 32 } }), /fixed at 64×64; --size 32 does not fit it/);
  });

  it('loadBackbone (TF.js backbones) points an ONNX file to openBackbone; useEngine keeps it on ONNX Runtime', async () => {
    await refusal(loadBackbone({ backbone: RESNET }), /is an ONNX model: open it with openBackbone/);
    const b = await load({ backbone: RESNET, node: CUT });
    const lines: string[] = [];
    expect(await useEngine(b, { engine: 'tfjs', log: (l) => lines.push(l) })).toBe('onnx');
    expect(engineOf(b)).toBe('onnx');
    expect(lines.join('\n')).toMatch(/is an ONNX model: it runs on ONNX Runtime/);
  });

  it('--layer on an ONNX model', async () => {
    await refusal(openBackbone({ backbone: RESNET, layer: 'x' }), /is an ONNX model: name its cut with --node, not --layer/);
  });

  it('a sidecar with a bad value', async () => {
    const dir = await tempDir('onnx-sidecar-bad');
    await fs.copyFile(RESNET, path.join(dir, 'model.onnx'));
    await fs.writeFile(path.join(dir, 'backbone.json'), JSON.stringify({ std: [0, 1, 1] }));
    await refusal(openBackbone({ backbone: dir }), /backbone\.json: std: use three numbers > 0/);
  });
});
