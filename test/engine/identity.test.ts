import { describe, expect, it } from 'vitest';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { startExtractor } from '../../src/engine/extractor.js';
import { bundledFingerprint, storedIdentity } from '../../src/engine/identity.js';
import { backboneIdentity, loadBackbone } from '../../src/backbone/index.js';
import { tempDir } from '../tmp.js';

async function infoOf(modelsDir: string, preprocess?: { size?: number }) {
  const e = await startExtractor({ engine: 'onnx', backbone: { modelsDir, preprocess }, workers: 1 });
  const { id, weightsHash, cut, kind, featureShape, preprocess: spec, engine } = e.info;
  const out = new Float32Array(await e.extract(new Float32Array(spec.size * spec.size * 3).fill(0.5), 1));
  await e.close();
  return { identity: { id, weightsHash, cut, kind, featureShape, preprocess: spec }, engine, out };
}

describe("the bundled backbone's remembered identity", () => {
  it('is written on the first ONNX run, equals what loading the model gives, and the next run uses it (same info, same maps)', async () => {
    const modelsDir = path.join(await tempDir('identity'), 'models');
    const tensors = tf.memory().numTensors;
    expect(await storedIdentity({}, modelsDir)).toBeUndefined();
    const first = await infoOf(modelsDir);
    const stored = await storedIdentity({}, modelsDir);
    const bb = await loadBackbone({});
    expect(stored?.identity).toEqual(backboneIdentity(bb));
    bb.dispose();
    const second = await infoOf(modelsDir);
    expect(second.identity).toEqual(first.identity);
    expect(second.engine).toBe('onnx');
    expect(Buffer.compare(Buffer.from(second.out.buffer), Buffer.from(first.out.buffer))).toBe(0);

    // Proof that the record, not the model, answered: a doctored record shows through.
    const [record] = (await fs.readdir(path.join(modelsDir, 'onnx'))).filter((f) => f.startsWith('identity-'));
    const file = path.join(modelsDir, 'onnx', record);
    const json = JSON.parse(await fs.readFile(file, 'utf8'));
    json.identity.weightsHash = 'f'.repeat(64);
    await fs.writeFile(file, JSON.stringify(json));
    expect((await infoOf(modelsDir)).identity.weightsHash).toBe('f'.repeat(64));
    expect(tf.memory().numTensors).toBe(tensors);
  }, 120_000);

  it('is keyed by the arguments: another size has no record; other backbones are never remembered', async () => {
    const modelsDir = path.join(await tempDir('identity-keys'), 'models');
    await infoOf(modelsDir);
    expect(await storedIdentity({ preprocess: { size: 160 } }, modelsDir)).toBeUndefined();
    expect(await bundledFingerprint({ preprocess: { size: 160 } })).not.toBe(await bundledFingerprint({}));
    expect(await bundledFingerprint({ layer: 'out_relu' })).toBe(await bundledFingerprint({}));
    expect(await bundledFingerprint({ backbone: 'mobilenet-v2' })).toBeUndefined();
    expect(await bundledFingerprint({ backbone: '/some/model.json' })).toBeUndefined();
  }, 120_000);

  it('a record whose ONNX file is damaged or gone falls back to loading the model (converted again), and a corrupt record is ignored', async () => {
    const modelsDir = path.join(await tempDir('identity-damage'), 'models');
    const good = await infoOf(modelsDir);
    const onnx = (await fs.readdir(path.join(modelsDir, 'onnx'))).find((f) => f.endsWith('.onnx'))!;
    await fs.writeFile(path.join(modelsDir, 'onnx', onnx), Buffer.from('not a model'));
    const again = await infoOf(modelsDir);
    expect(again.identity).toEqual(good.identity);
    expect(Buffer.compare(Buffer.from(again.out.buffer), Buffer.from(good.out.buffer))).toBe(0);
    const [record] = (await fs.readdir(path.join(modelsDir, 'onnx'))).filter((f) => f.startsWith('identity-'));
    await fs.writeFile(path.join(modelsDir, 'onnx', record), '{"fingerprint": 3');
    expect(await storedIdentity({}, modelsDir)).toBeUndefined();
    expect((await infoOf(modelsDir)).identity).toEqual(good.identity);
    expect(await storedIdentity({}, modelsDir)).toBeDefined();
  }, 120_000);
});
