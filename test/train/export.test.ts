import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadBackbone, isTap } from '../../src/backbone/index.js';
import type { Backbone } from '../../src/backbone/types.js';
import { memoryFeatureSet } from '../../src/train/features.js';
import { trainHead } from '../../src/train/trainer.js';
import { disposeHead } from '../../src/train/heads.js';
import { exportModel, readMeta } from '../../src/train/export.js';

let dir = '';
let server: http.Server;
let base = '';
let backbone: Backbone;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mixhead-export-'));
  // Serves the output folder over HTTP, as a browser app would load it.
  server = http.createServer(async (req, res) => {
    try {
      const body = await readFile(path.join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
      res.writeHead(200);
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  backbone = await loadBackbone();
});

afterAll(async () => {
  backbone.dispose();
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

describe('exported models', () => {
  it('the combined backbone+head model is stock layers, loads with plain tf.loadLayersModel over HTTP, and predicts what the pipeline predicts', async () => {
    const n = 6;
    const images = tf.randomUniform([n, 224, 224, 3], 0, 1, 'float32', 42) as tf.Tensor4D;
    const feats = backbone.extract(images);
    const maps = feats.dataSync() as Float32Array;
    const labels = Array.from({ length: n }, (_, i) => [i % 2 ? 'odd' : 'even']);
    const set = memoryFeatureSet({ maps, featureShape: [7, 7, 1280], labels, classes: ['even', 'odd'] });
    const r = await trainHead(set, null, { head: 'mlp', hidden: 16, epochs: 2, batchSize: 3, mixAt: 'hidden', seed: 1 });
    const meta = await exportModel(
      dir,
      r.head,
      { classes: ['even', 'odd'], multiLabel: false, threshold: 0.5, featureShape: [7, 7, 1280], backbone: { id: backbone.id, weightsHash: backbone.weightsHash, cut: backbone.cut, kind: backbone.kind }, preprocess: backbone.preprocess },
      backbone,
    );
    expect(meta.combined).toBe(true);
    const json = JSON.parse(await readFile(path.join(dir, 'combined', 'model.json'), 'utf8'));
    expect(JSON.stringify(json)).not.toContain('FeatureTap');

    const combined = await tf.loadLayersModel(`${base}/combined/model.json`);
    const headOnly = await tf.loadLayersModel(`${base}/head/model.json`);
    expect(combined.layers.some(isTap)).toBe(false);
    const pipeline = headOnly.predict(feats) as tf.Tensor;
    const direct = combined.predict(images) as tf.Tensor;
    const a = pipeline.dataSync();
    const b = direct.dataSync();
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 5);
    // Probabilities: each row sums to 1.
    for (let i = 0; i < n; i++) expect(a[2 * i] + a[2 * i + 1]).toBeCloseTo(1, 5);
    expect((await readMeta(dir)).classes).toEqual(['even', 'odd']);
    tf.dispose([images, feats, pipeline, direct]);
    combined.dispose();
    headOnly.dispose();
    disposeHead(r.head);
  });
});
