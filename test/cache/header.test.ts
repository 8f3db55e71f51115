import { afterAll, describe, expect, it } from 'vitest';
import { CacheMismatchError, FeatureCache, assertCompatible, compareHeaders, makeHeader } from '../../src/cache/index.js';
import { cleanTempDirs, prng, makeEntries, tempDir, testHeader } from './helpers.js';

afterAll(cleanTempDirs);

describe('compareHeaders', () => {
  it('finds nothing between headers that differ only in createdAt', () => {
    expect(compareHeaders(testHeader({ createdAt: '2020-01-01T00:00:00Z' }), testHeader())).toEqual([]);
  });

  it('names each difference in plain words', () => {
    const a = testHeader();
    const b = testHeader({
      backbone: { id: 'bundled-mobilenet-v2', weightsHash: '9f8e7d6c5b4a39281706', cut: 'block_16', kind: 'layers' },
      preprocess: { size: 192, range: [-1, 1], fit: 'contain' },
      featureShape: [3, 3, 16],
      classes: ['shirt', 'sneaker', 'boot'],
      multiLabel: true,
    });
    const d = compareHeaders(a, b);
    expect(d).toContain('backbone weights hash differs: 1a2b3c4d5e6f… vs 9f8e7d6c5b4a…');
    expect(d).toContain('input size differs: 224 vs 192');
    expect(d).toContain("class vocabulary differs: missing 'bag', extra 'boot'");
    expect(d).toContain('cut layer differs: out_relu vs block_16');
    expect(d).toContain('pixel range differs: [0,1] vs [-1,1]');
    expect(d).toContain('resize fit differs: cover vs contain');
    expect(d).toContain('feature shape differs: 3×3×8 vs 3×3×16');
    expect(d).toContain('label mode differs: single-label vs multi-label');
  });

  it('a model loaded from a path is its weights: the same file elsewhere matches, other weights or another kind do not', () => {
    const at = (id: string, weightsHash = 'c'.repeat(64), kind: 'onnx' | 'layers' = 'onnx') => testHeader({ backbone: { id, weightsHash, cut: 'layer4', kind } });
    // Copied to each node's scratch, or moved: same weights, same maps.
    expect(compareHeaders(at('onnx:/home/me/resnet50.onnx'), at('onnx:/scratch/job7/resnet50.onnx'))).toEqual([]);
    expect(compareHeaders(at('layers:./net/model.json', 'd'.repeat(64), 'layers'), at('layers:/srv/net/model.json', 'd'.repeat(64), 'layers'))).toEqual([]);
    // Other weights at another path: both differences named.
    expect(compareHeaders(at('onnx:/a/m.onnx'), at('onnx:/b/m.onnx', 'e'.repeat(64)))).toEqual([
      'backbone differs: onnx:/a/m.onnx vs onnx:/b/m.onnx',
      'backbone weights hash differs: cccccccccccc… vs eeeeeeeeeeee…',
    ]);
    // A named backbone is its name, whatever a hash says; an ONNX file is not a TF.js folder.
    expect(compareHeaders(at('mobilenet-v1'), at('mobilenet-v2'))).toContain('backbone differs: mobilenet-v1 vs mobilenet-v2');
    expect(compareHeaders(at('onnx:/a/m.onnx'), at('layers:/a/m', 'c'.repeat(64), 'layers'))).toContain('backbone differs: onnx:/a/m.onnx vs layers:/a/m');
  });

  it('tells dtype, quantization and class order apart', () => {
    expect(compareHeaders(testHeader({}, 'float16'), testHeader({}, 'uint8'))).toEqual(['dtype differs: float16 vs uint8']);
    const q1 = testHeader({}, 'uint8');
    const q2 = testHeader({ quantization: { scale: 0.05, zeroPoint: 0 } }, 'uint8');
    expect(compareHeaders(q1, q2)[0]).toMatch(/^quantization differs: .*0\.0235.* vs .*0\.05/);
    expect(compareHeaders(testHeader(), testHeader({ classes: ['shirt', 'bag', 'sneaker'] }))[0]).toMatch(/^class order differs/);
  });

  it('fills the uint8 default scale 6/255 and rejects invalid headers with the valid choices', () => {
    expect(testHeader({}, 'uint8').quantization).toEqual({ scale: 6 / 255, zeroPoint: 0 });
    expect(() => makeHeader({ ...testHeader(), dtype: 'int8' as never })).toThrow(/float32, float16, uint8/);
  });

  it('assertCompatible throws one line naming the cache dir and the differences', () => {
    const err = (() => {
      try {
        assertCompatible(testHeader(), testHeader({ preprocess: { size: 192, range: [0, 1], fit: 'cover' } }), '/caches/fm');
      } catch (e) {
        return e as CacheMismatchError;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(CacheMismatchError);
    expect(err.message).toBe('cache /caches/fm was made with different settings: input size differs: 224 vs 192');
    expect(err.message).not.toContain('\n');
  });
});

describe('a cache refuses a different header', () => {
  it('keeps the existing header and data when created again with other settings', async () => {
    const dir = tempDir();
    const h = testHeader();
    const c = FeatureCache.create(dir, h);
    c.putMany(makeEntries(prng(1), 3, 72, h.classes));
    await c.close();
    const other = testHeader({ classes: ['bag', 'shirt', 'boot'] });
    expect(() => FeatureCache.create(dir, other)).toThrow(
      `cache ${dir} was made with different settings: class vocabulary differs: missing 'sneaker', extra 'boot'`,
    );
    // Same settings later: resumes (createdAt ignored), data intact, lock released by the failure.
    const again = FeatureCache.create(dir, testHeader({ createdAt: '2031-01-01T00:00:00Z' }));
    expect(again.count).toBe(3);
    expect(again.header.createdAt).toBe(h.createdAt);
    await again.close();
  });
});
