/**
 * The task handler of the extraction pool (pool.ts): one per worker thread, owning one TF.js backend
 * and one backbone. The wasm backend is single-threaded in Node, so parallel extraction means one
 * of these per core. The backbone loads on the first task (the pool sends an `info` task to each
 * worker when it starts), so a load failure comes back as a task result, never as a dead thread.
 */
import { workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { Piscina } from 'piscina';
import { selectBackend } from '../tfjs/backend.js';
import { readTidy } from '../tfjs/tensors.js';
import { backboneIdentity, loadBackbone, type LoadBackboneArgs } from './index.js';
import type { Backbone } from './types.js';

export interface WorkerArgs {
  backbone: LoadBackboneArgs;
  backend?: string;
  /** Test hook only (see crashHook): extract tasks started, over all threads of the pool. */
  crashCounter?: Int32Array;
}

export type ExtractTask = { type: 'info' } | { type: 'extract'; pixels: Float32Array; count: number };

export type BackboneInfoReply = {
  id: string;
  weightsHash: string;
  cut: string;
  kind: 'layers' | 'graph' | 'onnx';
  featureShape: number[];
  preprocess: Backbone['preprocess'];
  backend: string;
};

/** An info task answers BackboneInfoReply, an extract task the features (transferred, not copied); a failure answers TaskFailure. */
export type TaskFailure = { failed: string };

const args = workerData as WorkerArgs;
let loaded: Promise<{ backbone: Backbone; backend: string }> | undefined;

function load(): Promise<{ backbone: Backbone; backend: string }> {
  loaded ??= (async () => {
    const info = await selectBackend({ force: args.backend });
    return { backbone: await loadBackbone(args.backbone), backend: info.name };
  })();
  return loaded;
}

/**
 * Test hook, never set in normal use: MIXHEAD_TEST_WORKER_CRASH=`exit:N` makes the thread running
 * the pool's N-th extract task (counted over all its threads) call process.exit(70); `exit-from:N`
 * does so for that task and every later one; `throw:N` / `throw-from:N` throw an uncaught
 * exception from a timer instead (the thread dies with an 'error' event).
 */
const crashHook = /^(exit|throw)(-from)?:(\d+)$/.exec(process.env.MIXHEAD_TEST_WORKER_CRASH ?? '');

async function maybeCrash(): Promise<void> {
  if (!crashHook || !args.crashCounter) return;
  const nth = Atomics.add(args.crashCounter, 0, 1) + 1;
  const at = Number(crashHook[3]);
  if (crashHook[2] ? nth < at : nth !== at) return;
  if (crashHook[1] === 'exit') process.exit(70);
  setTimeout(() => {
    throw new Error(`test hook: uncaught exception in an extraction worker (task ${nth})`);
  });
  await new Promise(() => {}); // the thread dies before this settles
}

export default async function handle(task: ExtractTask): Promise<unknown> {
  try {
    const { backbone, backend } = await load();
    if (task.type === 'info') {
      return { ...backboneIdentity(backbone), backend } satisfies BackboneInfoReply;
    }
    await maybeCrash();
    const size = backbone.preprocess.size;
    const features = readTidy(() => backbone.extract(tf.tensor4d(task.pixels, [task.count, size, size, 3])));
    return Piscina.move(features);
  } catch (err) {
    return { failed: (err as Error).message } satisfies TaskFailure;
  }
}
