/**
 * A pool of worker threads, one backbone each, for parallel feature extraction. The wasm backend
 * never uses more than one thread in Node, so throughput on N cores comes from N workers.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import path from 'node:path';
import os from 'node:os';
import type { LoadBackboneArgs } from './index.js';
import type { WorkerReply } from './extract-worker.js';
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
  kind: 'layers' | 'graph';
  featureShape: number[];
  preprocess: PreprocessSpec;
  backend: string;
}

interface Slot {
  worker: Worker;
  busy: boolean;
}

/**
 * Starts the worker script beside this file: `.js` when built; under tsx or vitest the source is
 * `.ts`, which a worker thread cannot load by itself, so a two-line bootstrap loads it through tsx.
 */
function spawnWorker(workerData: unknown): Worker {
  const here = fileURLToPath(import.meta.url);
  if (path.extname(here) !== '.ts') return new Worker(path.join(path.dirname(here), 'extract-worker.js'), { workerData });
  const script = pathToFileURL(path.join(path.dirname(here), 'extract-worker.ts')).href;
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => m.tsImport(${JSON.stringify(script)}, ${JSON.stringify(script)}))`;
  return new Worker(boot, { eval: true, workerData });
}

export class ExtractorPool {
  readonly info: PoolBackboneInfo;
  /** Images run through the backbone so far (tests assert a resumed run does no extra work). */
  imagesExtracted = 0;
  private readonly slots: Slot[];
  private readonly waiting: (() => void)[] = [];
  private job = 0;

  private constructor(info: PoolBackboneInfo, slots: Slot[]) {
    this.info = info;
    this.slots = slots;
  }

  static async start(args: ExtractorPoolArgs): Promise<ExtractorPool> {
    const n = Math.max(1, args.workers ?? os.availableParallelism?.() ?? os.cpus().length);
    const workers = Array.from({ length: n }, () => spawnWorker({ backbone: args.backbone, backend: args.backend }));
    let infos: PoolBackboneInfo[];
    try {
      infos = await Promise.all(
        workers.map(
          (w) =>
            new Promise<PoolBackboneInfo>((resolve, reject) => {
              w.once('message', (m: WorkerReply) => {
                if (m.type === 'ready') {
                  const { type: _t, ...info } = m;
                  resolve(info);
                } else if (m.type === 'failed') reject(new Error(m.message));
              });
              w.once('error', reject);
              w.once('exit', (code) => reject(new Error(`extraction worker exited with code ${code} before it was ready`)));
            }),
        ),
      );
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
    return new ExtractorPool(infos[0], workers.map((worker) => ({ worker, busy: false })));
  }

  get size(): number {
    return this.slots.length;
  }

  private async acquire(): Promise<Slot> {
    for (;;) {
      const free = this.slots.find((s) => !s.busy);
      if (free) {
        free.busy = true;
        return free;
      }
      await new Promise<void>((r) => this.waiting.push(r));
    }
  }

  private release(slot: Slot): void {
    slot.busy = false;
    this.waiting.shift()?.();
  }

  /**
   * Runs `count` preprocessed images (count×size×size×3 floats; the buffer is transferred to the
   * worker and unusable afterwards) and resolves with count×(feature size) floats.
   */
  async extract(pixels: Float32Array, count: number): Promise<Float32Array> {
    const slot = await this.acquire();
    const job = ++this.job;
    try {
      return await new Promise<Float32Array>((resolve, reject) => {
        const onMessage = (m: WorkerReply) => {
          if ((m.type === 'features' || m.type === 'error') && m.job === job) {
            cleanup();
            if (m.type === 'features') resolve(m.features);
            else reject(new Error(`feature extraction failed: ${m.message}`));
          }
        };
        const onExit = (code: number) => {
          cleanup();
          reject(new Error(`extraction worker exited with code ${code}`));
        };
        const cleanup = () => {
          slot.worker.off('message', onMessage);
          slot.worker.off('exit', onExit);
        };
        slot.worker.on('message', onMessage);
        slot.worker.on('exit', onExit);
        slot.worker.postMessage({ type: 'extract', job, pixels, count }, [pixels.buffer as ArrayBuffer]);
      });
    } finally {
      this.imagesExtracted += count;
      this.release(slot);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
