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
 * Each thread decodes one image at a time (two per thread measured no faster), so a thread that
 * dies takes only its image along; piscina starts a replacement and the image is tried once more
 * there. An image on which a thread dies twice fails with that reason (precompute skips it); threads
 * that die on every image (a worker that cannot start) end the run with DecodePoolError.
 */
import os from 'node:os';
import { Piscina } from 'piscina';
import { workerEntry } from '../base/worker-entry.js';
import type { PreprocessSpec } from '../backbone/types.js';
import type { RawImage } from './types.js';
import { ImageDecodeError, isRawImage, type ViewRequest } from './image.js';
import type { DecodeReply, DecodeTask } from './decode-worker.js';

/** The pool itself is broken (its threads die on every image): the run cannot go on. */
export class DecodePoolError extends Error {
  override name = 'DecodePoolError';
}

export class DecodePool {
  private readonly pool: Piscina;
  /** Thread deaths since the last image that decoded (or failed with a reason of its own). */
  private deathsInARow = 0;

  /** `threads` worker threads (default: the number of cores), one image in flight on each. */
  constructor(threads = Math.max(1, os.availableParallelism?.() ?? os.cpus().length)) {
    const entry = workerEntry(import.meta.url, 'decode-worker');
    this.pool = new Piscina({
      filename: entry.filename,
      minThreads: threads,
      maxThreads: threads,
      concurrentTasksPerWorker: 1,
      idleTimeout: Infinity,
      atomics: 'disabled',
      workerData: entry.extra,
    });
    // A thread that dies between tasks is replaced; without a listener its 'error' would end the process.
    this.pool.on('error', () => {});
  }

  /** Images the pool runs at once. */
  get concurrency(): number {
    return this.pool.options.maxThreads;
  }

  /** size×size×3 8-bit RGB (times the views), as decodeToRgb gives; rejects with an ImageDecodeError naming `label`. */
  async decode(source: string | Buffer | RawImage, spec: PreprocessSpec, label: string, maxPixels?: number, views?: ViewRequest): Promise<Uint8Array> {
    const task: DecodeTask = { source: isRawImage(source) ? { ...source } : source, spec, maxPixels, views };
    for (let attempt = 1; ; attempt++) {
      let reply: DecodeReply;
      try {
        reply = (await this.pool.run(task)) as DecodeReply;
      } catch (err) {
        // Only a dead thread rejects (the handler answers its own errors): one more try on a fresh
        // thread. Threads that die whatever they are given end the run instead of skipping every image.
        const why = String((err as Error).message).split('\n')[0];
        if (++this.deathsInARow > 2 * this.concurrency + 2) throw new DecodePoolError(`the image decoding threads keep dying (${this.deathsInARow} times in a row; last: ${why})`);
        if (attempt < 2) continue;
        throw new ImageDecodeError(label, `the decoding thread died on it twice (${why})`);
      }
      this.deathsInARow = 0;
      if (!(reply instanceof Uint8Array)) throw new ImageDecodeError(label, reply.reason);
      return reply;
    }
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
