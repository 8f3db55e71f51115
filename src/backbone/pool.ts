/**
 * A pool of worker threads, one backbone each, for parallel feature extraction. The wasm backend
 * never uses more than one thread in Node, so throughput on N cores comes from N workers.
 *
 * Scheduling, queueing and worker lifetimes are piscina's: a thread that dies (process.exit, an
 * uncaught exception, out of memory) fails only the batch it was running and is replaced by a fresh
 * one. The batch is then retried on another thread, once; a batch that kills its thread twice fails
 * the run with one line. (tinypool 2.2 was tried first: with worker threads it leaves the task of a
 * thread that calls process.exit pending forever.)
 */
import os from 'node:os';
import { Piscina } from 'piscina';
import { workerEntry } from '../base/worker-entry.js';
import type { LoadBackboneArgs } from './index.js';
import type { BackboneInfoReply, ExtractTask, TaskFailure, WorkerArgs } from './extract-worker.js';
import type { PreprocessSpec } from './types.js';

export interface ExtractorPoolArgs {
  backbone: LoadBackboneArgs;
  /** Number of worker threads; default: the number of cores. */
  workers?: number;
  /** Backend for the workers (default: as selectBackend decides, honouring MIXHEAD_BACKEND). */
  backend?: string;
}

export interface PoolBackboneInfo {
  id: string;
  weightsHash: string;
  cut: string;
  kind: 'layers' | 'graph' | 'onnx';
  featureShape: number[];
  preprocess: PreprocessSpec;
  backend: string;
}

/** Attempts per batch: the first, plus one retry on a fresh thread after its worker died. */
const ATTEMPTS = 2;

function isFailure(x: unknown): x is TaskFailure {
  return typeof x === 'object' && x !== null && typeof (x as TaskFailure).failed === 'string';
}

export class ExtractorPool {
  readonly info: PoolBackboneInfo;
  /** Images run through the backbone so far (tests assert a resumed run does no extra work). */
  imagesExtracted = 0;
  /** Worker threads that died while running a batch (each one replaced, its batch retried). */
  workerDeaths = 0;
  private readonly pool: Piscina;
  private readonly threads: number;

  private constructor(info: PoolBackboneInfo, pool: Piscina, threads: number) {
    this.info = info;
    this.pool = pool;
    this.threads = threads;
    // A thread that dies between batches is replaced by piscina; without a listener its 'error'
    // event would crash this process.
    pool.on('error', () => {
      this.workerDeaths++;
    });
  }

  static async start(args: ExtractorPoolArgs): Promise<ExtractorPool> {
    const n = Math.max(1, args.workers ?? os.availableParallelism?.() ?? os.cpus().length);
    const entry = workerEntry(import.meta.url, 'extract-worker');
    const workerData: WorkerArgs & Record<string, unknown> = { backbone: args.backbone, backend: args.backend, ...entry.extra };
    // The crash test hook counts tasks over all threads in one shared word (extract-worker.ts).
    if (process.env.MIXHEAD_TEST_WORKER_CRASH) workerData.crashCounter = new Int32Array(new SharedArrayBuffer(4));
    const pool = new Piscina({
      filename: entry.filename,
      minThreads: n,
      maxThreads: n,
      concurrentTasksPerWorker: 1,
      idleTimeout: Infinity,
      // Idle threads wait on their message port, not in Atomics.wait, so timers in them still run.
      atomics: 'disabled',
      workerData,
    });
    const earlyErrors: Error[] = [];
    const onEarlyError = (err: Error) => earlyErrors.push(err);
    pool.on('error', onEarlyError);
    try {
      // One info task per thread: each loads its backbone now, so a bad backbone fails here.
      const replies = await Promise.all(Array.from({ length: n }, () => pool.run({ type: 'info' } satisfies ExtractTask)));
      const failed = replies.find(isFailure);
      if (failed) throw new Error(failed.failed);
      pool.off('error', onEarlyError);
      if (earlyErrors.length) throw earlyErrors[0];
      return new ExtractorPool(replies[0] as BackboneInfoReply, pool, n);
    } catch (err) {
      await pool.destroy();
      throw err instanceof Error && /^worker exited with code/.test(err.message)
        ? new Error(`extraction worker ${err.message.replace(/^worker /, '')} before it was ready`)
        : err;
    }
  }

  get size(): number {
    return this.threads;
  }

  /**
   * Runs `count` preprocessed images (count×size×size×3 floats, copied to the worker: `pixels`
   * stays the caller's) and resolves with count×(feature size) floats. If the worker thread dies
   * meanwhile, the batch runs again on its replacement; a second death fails with one line.
   */
  async extract(pixels: Float32Array, count: number): Promise<Float32Array> {
    for (let attempt = 1; ; attempt++) {
      let reply: unknown;
      try {
        reply = await this.pool.run({ type: 'extract', pixels, count } satisfies ExtractTask);
      } catch (err) {
        // Only a dead thread rejects: the handler turns its own errors into a TaskFailure.
        this.workerDeaths++;
        if (attempt >= ATTEMPTS) {
          throw new Error(
            `feature extraction failed: the worker thread died ${attempt} times on the same batch of ${count} images (last: ${(err as Error).message}); nothing from that batch was written`,
          );
        }
        continue;
      }
      if (isFailure(reply)) throw new Error(`feature extraction failed: ${reply.failed}`);
      this.imagesExtracted += count;
      return reply as Float32Array;
    }
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
