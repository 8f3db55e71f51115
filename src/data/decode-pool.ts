/**
 * Image decoding in worker threads (piscina): each task reads a file, decodes it with sharp and
 * resizes it (decodeToRgb), so only the size×size×3 result reaches the caller's thread.
 *
 * Why precompute decodes here and not on its own thread: a profile of `mixhead precompute` over
 * 1280×960 JPEGs found the main thread busy 71% of the run with the resize and with major garbage
 * collections (one every ~7 images, each marking the whole ~27 MB heap) that the 3.7 MB decoded
 * buffers forced; ONNX Runtime's `run` blocks that thread too. A worker's heap is a few MB, so its
 * collections are cheap, and its resize overlaps the backbone. See docs/engine.md.
 *
 * A thread that dies takes the images in flight on it along; piscina starts a replacement and each
 * of those images is tried once more there. An image on which a thread dies twice fails with that
 * reason (precompute skips it); the others are decoded.
 */
import os from 'node:os';
import { Piscina } from 'piscina';
import { workerEntry } from '../util/worker-entry.js';
import type { PreprocessSpec } from '../backbone/types.js';
import type { RawImage } from './types.js';
import { ImageDecodeError, isRawImage } from './image.js';
import type { DecodeReply, DecodeTask } from './decode-worker.js';

export class DecodePool {
  private readonly pool: Piscina;

  /** `threads` worker threads (default: the number of cores), each with up to `perThread` images in flight. */
  constructor(threads = Math.max(1, os.availableParallelism?.() ?? os.cpus().length), perThread = 2) {
    const entry = workerEntry(import.meta.url, 'decode-worker');
    this.pool = new Piscina({
      filename: entry.filename,
      minThreads: threads,
      maxThreads: threads,
      concurrentTasksPerWorker: perThread,
      idleTimeout: Infinity,
      atomics: 'disabled',
      workerData: entry.extra,
    });
    // A thread that dies between tasks is replaced; without a listener its 'error' would end the process.
    this.pool.on('error', () => {});
  }

  /** Images the pool runs at once. */
  get concurrency(): number {
    return this.pool.options.maxThreads * this.pool.options.concurrentTasksPerWorker;
  }

  /** size×size×3 8-bit RGB, as decodeToRgb gives; rejects with an ImageDecodeError naming `label`. */
  async decode(source: string | Buffer | RawImage, spec: PreprocessSpec, label: string, maxPixels?: number): Promise<Uint8Array> {
    const task: DecodeTask = { source: isRawImage(source) ? { ...source } : source, spec, maxPixels };
    for (let attempt = 1; ; attempt++) {
      let reply: DecodeReply;
      try {
        reply = (await this.pool.run(task)) as DecodeReply;
      } catch (err) {
        // Only a dead thread rejects (the handler answers its own errors). Another image in flight
        // on that thread dies with it, so each image gets one more try on a fresh thread.
        if (attempt < 2) continue;
        throw new ImageDecodeError(label, `the decoding thread died on it twice (${String((err as Error).message).split('\n')[0]})`);
      }
      if (!(reply instanceof Uint8Array)) throw new ImageDecodeError(label, reply.reason);
      return reply;
    }
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
