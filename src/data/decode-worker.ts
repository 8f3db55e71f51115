/**
 * The task handler of DecodePool (decode-pool.ts): reads and decodes one image with sharp and
 * resizes it (decodeToRgb), in a worker thread. Answers the size×size×3 bytes (moved, not copied),
 * or `{ reason }` for an image that cannot be used.
 */
import { Piscina } from 'piscina';
import type { PreprocessSpec } from '../backbone/types.js';
import type { RawImage } from './types.js';
import { decodeToRgb, ImageDecodeError, readErrorReason, type ViewRequest } from './image.js';

export interface DecodeTask {
  source: string | Uint8Array | RawImage;
  spec: PreprocessSpec;
  maxPixels?: number;
  /** Several views of the image, concatenated in the reply. */
  views?: ViewRequest;
}

export type DecodeReply = Uint8Array | { reason: string };

/**
 * Test hook, never set in normal use: MIXHEAD_TEST_DECODE_CRASH=name makes the thread that is given
 * a file of that base name (`*`: any file) exit, as a thread dies when it runs out of memory.
 */
const crashOn = process.env.MIXHEAD_TEST_DECODE_CRASH;

export default async function handle(task: DecodeTask): Promise<unknown> {
  if (crashOn && typeof task.source === 'string' && (crashOn === '*' || task.source.endsWith(`/${crashOn}`))) process.exit(70);
  try {
    // Bytes arrive as a plain Uint8Array; sharp wants a Buffer over the same memory.
    const src = task.source instanceof Uint8Array ? Buffer.from(task.source.buffer, task.source.byteOffset, task.source.byteLength) : task.source;
    const rgb = await decodeToRgb(src, task.spec, { maxPixels: task.maxPixels }, task.views);
    return Piscina.move(rgb);
  } catch (err) {
    return { reason: err instanceof ImageDecodeError ? err.reason : (err as { code?: string }).code ? readErrorReason(err) : String((err as Error)?.message ?? err).split('\n')[0] };
  }
}
