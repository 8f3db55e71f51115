/**
 * Image decoding with sharp: any file sharp reads (JPEG, PNG, WebP, GIF, TIFF, AVIF/HEIF) or raw
 * pixels → size×size 8-bit sRGB RGB → floats as the backbone expects.
 *
 * - EXIF orientation is applied (`rotate()`), so a phone photo is upright.
 * - Alpha is flattened onto black: transparent padding then looks like the black letterbox of
 *   `contain`, rather than an arbitrary colour.
 * - CMYK, 16-bit, greyscale and palette images are converted to 8-bit sRGB (`toColourspace('srgb')`).
 * - Animated GIF/WebP: the first frame.
 * - Resize with a bilinear kernel (`linear`), as nsfwjs feeds its MobileNetV2: `cover` (default)
 *   scales the shorter side to `size` and crops the centre; `contain` letterboxes on black; `fill`
 *   stretches.
 * - Decompression bombs: images above `maxPixels` (default 100 megapixels) are refused before
 *   decoding.
 */
import sharp from 'sharp';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { PreprocessSpec } from '../backbone/types.js';
import type { DataItem, RawImage } from './types.js';

export const DEFAULT_MAX_PIXELS = 100_000_000;

/** An image that could not be used, with a one-line reason. */
export class ImageDecodeError extends Error {
  constructor(
    readonly source: string,
    readonly reason: string,
  ) {
    super(`${source}: ${reason}`);
  }
}

export function hashBytes(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

export async function readImageBytes(file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    throw new ImageDecodeError(file, readErrorReason(err));
  }
}

export function readErrorReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'ELOOP') return 'symlink loop';
  return `cannot read (${code ?? (err as Error).message})`;
}

function isRaw(s: unknown): s is RawImage {
  return typeof s === 'object' && s != null && !Buffer.isBuffer(s) && 'data' in s && 'width' in s;
}

/** Turns sharp's messages into one-line reasons a user can act on. */
function decodeReason(err: unknown, bytes: number | undefined, maxPixels: number): string {
  const msg = (err as Error).message ?? String(err);
  if (bytes === 0) return 'empty file';
  if (/pixel limit/i.test(msg)) return `image too large: exceeds the ${(maxPixels / 1e6).toFixed(0)} MP limit (decompression-bomb guard)`;
  if (/unsupported image format|Input buffer contains unsupported/i.test(msg)) return 'not an image (unrecognised format)';
  if (/premature end|truncated|corrupt|Invalid|VipsJpeg|bad|EOF|unexpected end/i.test(msg)) return `truncated or corrupt image (${msg.split('\n')[0].slice(0, 120)})`;
  return `cannot decode (${msg.split('\n')[0].slice(0, 160)})`;
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this (default 100 MP). */
  maxPixels?: number;
}

/** A file path, its bytes, or raw pixels → size×size×3 8-bit sRGB RGB, row-major. */
export async function decodeToRgb(source: string | Buffer | RawImage, spec: PreprocessSpec, options: DecodeOptions = {}): Promise<Uint8Array> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const label = typeof source === 'string' ? source : isRaw(source) ? `raw ${source.width}×${source.height}` : 'image bytes';
  let input: Buffer;
  let img: ReturnType<typeof sharp>;
  if (isRaw(source)) {
    if (source.data.length !== source.width * source.height * source.channels) {
      throw new ImageDecodeError(label, `raw pixels hold ${source.data.length} bytes, ${source.width}×${source.height}×${source.channels} needs ${source.width * source.height * source.channels}`);
    }
    img = sharp(Buffer.from(source.data.buffer, source.data.byteOffset, source.data.byteLength), {
      raw: { width: source.width, height: source.height, channels: source.channels },
    });
  } else {
    input = typeof source === 'string' ? await readImageBytes(source) : source;
    if (input.length === 0) throw new ImageDecodeError(label, 'empty file');
    img = sharp(input, { limitInputPixels: maxPixels, failOn: 'error', animated: false, pages: 1 });
  }
  try {
    const { data, info } = await img
      .rotate()
      .flatten({ background: { r: 0, g: 0, b: 0 } })
      .toColourspace('srgb')
      .resize(spec.size, spec.size, {
        fit: spec.fit === 'fill' ? 'fill' : spec.fit === 'contain' ? 'contain' : 'cover',
        position: 'centre',
        kernel: 'linear',
        background: { r: 0, g: 0, b: 0, alpha: 1 },
      })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== spec.size * spec.size * 3) {
      throw new Error(`unexpected decoded shape ${info.width}×${info.height}×${info.channels}`);
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err;
    throw new ImageDecodeError(label, decodeReason(err, isRaw(source) ? undefined : input!.length, maxPixels));
  }
}

/**
 * 8-bit RGB → the backbone's floats: x = lo + (hi − lo)·p/255, then (x − mean[c]) / std[c] when the
 * spec has them. The one place this formula lives.
 */
export function normalize(rgb: Uint8Array, spec: PreprocessSpec, out = new Float32Array(rgb.length)): Float32Array {
  const [lo, hi] = spec.range;
  const scale = (hi - lo) / 255;
  const mean = spec.mean ?? [0, 0, 0];
  const std = spec.std ?? [1, 1, 1];
  for (let i = 0; i < rgb.length; i++) {
    const c = i % 3;
    out[i] = (lo + rgb[i] * scale - mean[c]) / std[c];
  }
  return out;
}

/** decodeToRgb then normalize. */
export async function decodeImage(source: string | Buffer | RawImage, spec: PreprocessSpec, options?: DecodeOptions): Promise<Float32Array> {
  return normalize(await decodeToRgb(source, spec, options), spec);
}

export interface DecodedBatch {
  items: DataItem[];
  /** items.length × size × size × 3 floats. */
  pixels: Float32Array;
  failed: { item: DataItem; reason: string }[];
}

/**
 * Decodes items in batches, with the next batch already decoding while the caller works on the
 * current one (sharp runs on libuv's threads, so this overlaps with inference on the JS thread).
 */
export async function* decodeBatches(items: DataItem[], spec: PreprocessSpec, options: { batchSize?: number } & DecodeOptions = {}): AsyncGenerator<DecodedBatch> {
  const bs = options.batchSize ?? 16;
  const px = spec.size * spec.size * 3;
  const start = (from: number): Promise<DecodedBatch> => {
    const slice = items.slice(from, from + bs);
    return Promise.all(
      slice.map((item) =>
        decodeImage(item.source, spec, options).then(
          (d) => ({ item, d }),
          (err: unknown) => ({ item, reason: err instanceof ImageDecodeError ? err.reason : (err as Error).message }),
        ),
      ),
    ).then((results) => {
      const ok = results.filter((r): r is { item: DataItem; d: Float32Array } => 'd' in r);
      const pixels = new Float32Array(ok.length * px);
      ok.forEach((r, j) => pixels.set(r.d, j * px));
      return { items: ok.map((r) => r.item), pixels, failed: results.filter((r): r is { item: DataItem; reason: string } => 'reason' in r) };
    });
  };
  let next = items.length ? start(0) : undefined;
  for (let from = 0; next; from += bs) {
    const current = next;
    next = from + bs < items.length ? start(from + bs) : undefined;
    yield await current;
  }
}
