/**
 * An ONNX file backbone through the jobs: precompute caches PyTorch's maps (H×W×C, within 1e-4),
 * a cache made with another file is refused, a refused model leaves no cache behind, and a head
 * trains (mix points features and input) and predicts with it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { precompute } from '../../src/jobs/precompute.js';
import { CacheMismatchError, FeatureCache } from '../../src/cache/index.js';
import { runTrain } from '../../src/jobs/train.js';
import { runPredict } from '../../src/jobs/predict.js';
import { runEval } from '../../src/jobs/eval.js';
import { tempDir } from '../tmp.js';

const FIX = path.resolve('test/fixtures/onnx');
const RESNET = path.join(FIX, 'tiny-resnet.onnx');
const NHWC = path.join(FIX, 'tiny-resnet-nhwc.onnx');
const CUT = '/layer2/relu_1/Relu';
const expected = JSON.parse(readFileSync(path.join(FIX, 'expected.json'), 'utf8')) as { images: { image: string; maps: number[] }[] };

let dir = '';
let data = '';
beforeAll(async () => {
  dir = await tempDir('onnx-jobs');
  data = path.join(dir, 'data');
  // Two classes; each image twice (as a flipped copy would be, the bytes differ by name only) for a few more samples.
  for (const [i, e] of expected.images.entries()) {
    const cls = i === 1 ? 'b' : 'a';
    await fs.mkdir(path.join(data, cls), { recursive: true });
    await fs.copyFile(path.join(FIX, e.image), path.join(data, cls, path.basename(e.image)));
  }
});

const backbone = { backbone: RESNET, node: CUT, preprocess: { normalize: 'imagenet' as const } };

describe('precompute with an ONNX file backbone', () => {
  it('caches PyTorch maps as H×W×C and records the file identity and preprocessing', async () => {
    const cache = path.join(dir, 'cache');
    const r = await precompute({ data, cache, backbone, dtype: 'float32', progress: false });
    expect(r.computed).toBe(3);
    expect(r.engine).toBe('onnx');
    expect(r.header.backbone).toMatchObject({ id: `onnx:${RESNET}`, cut: `${CUT}_output_0`, kind: 'onnx' });
    expect(r.header.backbone.weightsHash).toMatch(/^[0-9a-f]{64}$/);
    expect(r.header.preprocess).toMatchObject({ size: 64, range: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    expect(r.header.featureShape).toEqual([8, 8, 16]);
    const c = FeatureCache.open(cache, { readonly: true });
    try {
      for (const e of expected.images) {
        const m = c.metas().find((x) => x.source.endsWith(path.basename(e.image)))!;
        const got = c.get(m.key)!.features;
        let d = 0;
        for (let i = 0; i < got.length; i++) d = Math.max(d, Math.abs(got[i] - e.maps[i]));
        expect(d).toBeLessThan(1e-4);
      }
    } finally {
      await c.close();
    }
    // A rerun reuses every entry.
    const again = await precompute({ data, cache, backbone, dtype: 'float32', progress: false });
    expect(again).toMatchObject({ computed: 0, reused: 3, backboneImages: 0 });
  });

  it('refuses to extend a cache made with another ONNX file, naming the weights hash', async () => {
    const cache = path.join(dir, 'cache-other');
    await precompute({ data, cache, backbone, dtype: 'float32', progress: false });
    const err = await precompute({ data, cache, backbone: { backbone: NHWC, preprocess: { normalize: 'imagenet' } }, dtype: 'float32', progress: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CacheMismatchError);
    expect((err as Error).message).toMatch(/backbone weights hash differs/);
  });

  it('a refused model leaves no cache behind', async () => {
    const cache = path.join(dir, 'cache-refused');
    const bad = path.join(dir, 'bad.onnx');
    await fs.writeFile(bad, 'not a model');
    await expect(precompute({ data, cache, backbone: { backbone: bad }, progress: false })).rejects.toThrow(/bad\.onnx: not an ONNX model/);
    await expect(precompute({ data, cache, backbone: { backbone: RESNET, node: 'nope' }, progress: false })).rejects.toThrow(/no node or tensor named "nope"/);
    expect(existsSync(cache)).toBe(false);
  });

  it('normalize cannot be combined with an explicit mean', async () => {
    await expect(precompute({ data, cache: path.join(dir, 'x'), backbone: { backbone: RESNET, preprocess: { normalize: 'imagenet', mean: [0, 0, 0] } }, progress: false })).rejects.toThrow(/normalize imagenet sets range, mean and std itself: give it or mean, not both/);
  });
});

describe('train, predict and eval on an ONNX backbone', () => {
  it('trains at the features and at the input, and predicts images through the ONNX model', async () => {
    const cache = path.join(dir, 'cache-train');
    await precompute({ data, cache, backbone, dtype: 'float32', progress: false });
    const out = path.join(dir, 'run-features');
    const r = await runTrain({ cache, out, head: 'linear', epochs: 3, lr: 0.01, batchSize: 2, seed: 1 });
    expect(r.meta.backbone).toMatchObject({ kind: 'onnx', cut: `${CUT}_output_0` });
    const preds = await runPredict({ model: out, images: [path.join(data, 'a', 'img0.png'), path.join(data, 'b', 'img1.png')], top: 2 });
    expect(preds).toHaveLength(2);
    for (const p of preds) expect(p.top.reduce((s, t) => s + t.probability, 0)).toBeCloseTo(1, 5);
    const ev = await runEval({ model: out, cache });
    expect(ev.size).toBe(3);
    // Mixing images reruns the ONNX model on the mixes each step.
    const input = await runTrain({ cache, out: path.join(dir, 'run-input'), head: 'linear', epochs: 2, lr: 0.01, batchSize: 3, seed: 1, mixAt: 'input', mixup: { alpha: 0.4 } });
    expect(input.result.history.length).toBe(2);
  });
});
