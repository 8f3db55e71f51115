import { tempDir } from '../tmp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, writeFile, access } from 'node:fs/promises';
import path from 'node:path';
import { loadBackbone, listBackbones } from '../../src/backbone/index.js';
import { TINY_CUT, tinyGraphModel } from '../fixtures/tiny-graph.js';

// A local stand-in for TF Hub: serves a GraphModel in the same format on 127.0.0.1.
const { json, weights } = tinyGraphModel(3);
let cutShard = false;
let requests: string[] = [];
const server = http.createServer((req, res) => {
  requests.push(req.url ?? '');
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname === '/hub/model.json') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(json));
  } else if (url.pathname === '/hub/group1-shard1of1.bin') {
    res.writeHead(200, { 'content-length': String(weights.length) });
    if (cutShard) {
      // The connection drops mid-body, as a flaky network does.
      res.write(weights.subarray(0, weights.length >> 1), () => res.socket?.destroy());
    } else {
      res.end(weights);
    }
  } else {
    res.writeHead(404);
    res.end();
  }
});
let base = '';

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('downloading a MobileNet GraphModel into models/', () => {
  it('an interrupted download leaves nothing that looks available; the next run completes offline-ready', async () => {
    const modelsDir = await tempDir('models');
    cutShard = true;
    await expect(loadBackbone({ backbone: 'mobilenet-v2-1.0', modelUrl: `${base}/hub/model.json`, modelsDir })).rejects.toThrow(/interrupted|cut short|terminated/);
    await expect(access(path.join(modelsDir, 'mobilenet-v2-1.0', 'model.json'))).rejects.toThrow();
    expect((await listBackbones(modelsDir)).find((b) => b.id === 'mobilenet-v2-1.0')?.offline).toBe(false);

    cutShard = false;
    const bb = await loadBackbone({ backbone: 'mobilenet-v2-1.0', modelUrl: `${base}/hub/model.json`, modelsDir });
    expect(bb.kind).toBe('graph');
    expect(bb.cut).toBe(TINY_CUT); // found as the input of the global pool, not hard-coded
    expect(bb.featureShape).toEqual([7, 7, 8]);
    const x = tf.randomUniform([2, 224, 224, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const f = bb.extract(x);
    expect(f.shape).toEqual([2, 7, 7, 8]);
    // Relu6 range, computed independently with stock ops from the served weights.
    const w = tf.tensor4d(new Float32Array(weights.buffer, weights.byteOffset, 32 * 32 * 3 * 8), [32, 32, 3, 8]);
    const ref = tf.clipByValue(tf.conv2d(x, w, 32, 'valid'), 0, 6);
    const d = tf.max(tf.abs(tf.sub(ref, f))).dataSync()[0];
    expect(d).toBeLessThan(1e-4);
    tf.dispose([x, f, w, ref]);
    bb.dispose();

    // Offline from now on: no request reaches the server.
    requests = [];
    const again = await loadBackbone({ backbone: 'mobilenet-v2', modelUrl: `${base}/hub/model.json`, modelsDir });
    expect(requests).toEqual([]);
    expect((await listBackbones(modelsDir)).find((b) => b.id === 'mobilenet-v2-1.0')?.offline).toBe(true);
    again.dispose();

    // A corrupted shard is caught by the recorded sha256.
    const shard = path.join(modelsDir, 'mobilenet-v2-1.0', 'group1-shard1of1.bin');
    const bytes = await readFile(shard);
    bytes[100] ^= 0xff;
    await writeFile(shard, bytes);
    await expect(loadBackbone({ backbone: 'mobilenet-v2-1.0', modelsDir })).rejects.toThrow(/sha256/);
  });

  it('a wrong --node lists the nodes with ops and shapes', async () => {
    const modelsDir = await tempDir('models');
    await expect(loadBackbone({ backbone: 'mobilenet-v2-1.0', modelUrl: `${base}/hub/model.json`, modelsDir, node: 'nope' })).rejects.toThrow(
      /Conv_1\/Relu6 \(Relu6\) \[1,7,7,8\]/,
    );
  });

  it('a dead URL is a one-line error naming the URL', async () => {
    const modelsDir = await tempDir('models');
    await expect(loadBackbone({ backbone: 'mobilenet-v1-1.0', modelUrl: `${base}/gone/model.json`, modelsDir })).rejects.toThrow(/gone\/model.json failed: HTTP 404/);
  });

  it('an unknown backbone name lists the known ids', async () => {
    await expect(loadBackbone({ backbone: 'resnet-9000' })).rejects.toThrow(/bundled-mobilenet-v2, mobilenet-v1-0.25/);
  });
});
