/**
 * A worker thread that owns one TF.js backend and one backbone. The wasm backend is single-threaded
 * in Node, so parallel extraction means one of these per core (see pool.ts).
 * Protocol: `init` → `ready` (or `failed`), then `extract` → `features` (or `error`), buffers transferred.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backend.js';
import { readTidy } from '../tensors.js';
import { loadBackbone, type LoadBackboneArgs } from './index.js';
import type { Backbone } from './types.js';

export type WorkerRequest = { type: 'extract'; job: number; pixels: Float32Array; count: number };
export type WorkerReply =
  | { type: 'ready'; id: string; weightsHash: string; cut: string; kind: 'layers' | 'graph'; featureShape: number[]; preprocess: Backbone['preprocess']; backend: string }
  | { type: 'failed'; message: string }
  | { type: 'features'; job: number; features: Float32Array }
  | { type: 'error'; job: number; message: string };

const port = parentPort!;
const args = workerData as { backbone: LoadBackboneArgs; backend?: string };

async function main(): Promise<void> {
  let backbone: Backbone;
  try {
    const info = await selectBackend({ force: args.backend });
    backbone = await loadBackbone(args.backbone);
    port.postMessage({
      type: 'ready',
      id: backbone.id,
      weightsHash: backbone.weightsHash,
      cut: backbone.cut,
      kind: backbone.kind,
      featureShape: backbone.featureShape,
      preprocess: backbone.preprocess,
      backend: info.name,
    } satisfies WorkerReply);
  } catch (err) {
    port.postMessage({ type: 'failed', message: (err as Error).message } satisfies WorkerReply);
    return;
  }
  const size = backbone.preprocess.size;
  port.on('message', (msg: WorkerRequest) => {
    if (msg.type !== 'extract') return;
    try {
      const features = readTidy(() => backbone.extract(tf.tensor4d(msg.pixels, [msg.count, size, size, 3])));
      port.postMessage({ type: 'features', job: msg.job, features } satisfies WorkerReply, [features.buffer as ArrayBuffer]);
    } catch (err) {
      port.postMessage({ type: 'error', job: msg.job, message: (err as Error).message } satisfies WorkerReply);
    }
  });
}

void main();
