/**
 * Image decoding with sharp: any file sharp reads (JPEG, PNG, WebP, GIF, TIFF, AVIF) or raw pixels →
 * size×size 8-bit sRGB RGB → floats as the backbone expects.
 *
 * Decisions, each made once here:
 * - EXIF orientation is applied (`rotate()` with no angle), so a phone photo is upright.
 * - Alpha is flattened onto black: transparent padding then looks like the black letterbox of
 *   `contain`, rather than an arbitrary colour.
 * - CMYK, 16-bit, greyscale, palette and ICC-tagged images become 8-bit sRGB
 *   (`toColourspace('srgb')` + `raw({depth: 'uchar'})`; sharp applies an embedded profile, or its
 *   built-in CMYK profile, on the way).
 * - Animated GIF/WebP: the first frame only (`pages: 1`).
 * - Resize kernel: `triangle` (src/preprocess/index.ts), a tent filter widened to the scale when
 *   shrinking (a large photo is averaged rather than point-sampled), run on sharp's full-resolution
 *   decode in WebAssembly SIMD (src/preprocess/resize-wasm.ts; the same bytes as the plain-JS definition
 *   the browser module runs, so it reproduces them exactly). `cover` (default) samples
 *   the centred square, `contain` letterboxes on black, `fill` stretches. Specs naming
 *   `sharp-linear` (caches and models made before) keep libvips' linear reduce with shrink-on-load.
 * - Raw pixels (IDX) go through the very same sharp pipeline, so a PNG and its raw pixels give the
 *   same floats (tested byte for byte).
 * - Decompression bombs: images above `maxPixels` (default 100 megapixels) are refused by sharp's
 *   `limitInputPixels`, before their pixels are decoded.
 * - Strictness: `failOn: 'error'` refuses truncated files (a half-grey photo is worse than none in a
 *   training set) but tolerates libjpeg's harmless warnings (extraneous bytes before a marker),
 *   which real photo collections are full of.
 */
import sharp from 'sharp';
import pLimit from 'p-limit';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { PreprocessSpec } from '../backbone/types.js';
import type { DataItem, RawImage } from './types.js';
import { DEFAULT_KERNEL, normalize, resizeToSquare } from '../preprocess/index.js';
import { fastResampler } from '../preprocess/resize-wasm.js';
import { renderViews, type ViewSpec } from '../preprocess/views.js';

export { normalize };

export const DEFAULT_MAX_PIXELS = 100_000_000;

/** An image that could not be used: `source` names it, `reason` says why in one line. */
export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
  constructor(
    readonly source: string,
    readonly reason: string,
  ) {
    super(`${source}: ${reason}`);
  }
}

/** sha256 of the bytes, hex: with the preprocessing spec, the key of a cached feature. */
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

/** A file-system error as a short reason ("permission denied"), shared by the readers. */
export function readErrorReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'ELOOP') return 'symlink loop';
  if (code === 'ENOTDIR') return 'not a directory';
  return `cannot read (${code ?? (err as Error).message})`;
}

export function isRawImage(s: unknown): s is RawImage {
  return typeof s === 'object' && s != null && !Buffer.isBuffer(s) && 'data' in s && 'width' in s;
}

/** The container format from the first bytes, to word reasons ("truncated or corrupt JPEG"). */
export function sniffFormat(b: Uint8Array): string | undefined {
  const ascii = (from: number, to: number) => Buffer.from(b.subarray(from, to)).toString('latin1');
  if (b[0] === 0xff && b[1] === 0xd8) return 'JPEG';
  if (b[0] === 0x89 && ascii(1, 4) === 'PNG') return 'PNG';
  if (ascii(0, 4) === 'GIF8') return 'GIF';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'WebP';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'TIFF';
  if (ascii(0, 2) === 'BM') return 'BMP';
  if (ascii(4, 8) === 'ftyp') {
    const brand = ascii(8, 12);
    if (brand === 'avif' || brand === 'avis') return 'AVIF';
    if (/^(heic|heix|hevc|hevx|mif1|msf1)$/.test(brand)) return 'HEIC';
  }
  return undefined;
}

const pixelCount = (n: number) => (n >= 1e6 ? `${+(n / 1e6).toFixed(1)} MP` : `${n} px`);
const tooLarge = (w: number | undefined, h: number | undefined, maxPixels: number) =>
  `image too large: ${w ?? '?'}×${h ?? '?'} px exceeds the ${pixelCount(maxPixels)} limit (decompression-bomb guard; raise maxPixels to allow it)`;

/** Turns sharp's messages into one-line reasons a user can act on. */
export async function decodeReason(err: unknown, input: Buffer, maxPixels: number): Promise<string> {
  const msg = ((err as Error).message ?? String(err)).split('\n')[0].slice(0, 160);
  const format = sniffFormat(input);
  if (/pixel limit/i.test(msg)) {
    // Only the header is read here (limit off): the dimensions make the reason checkable.
    const meta = await sharp(input, { limitInputPixels: false }).metadata().catch(() => undefined);
    return tooLarge(meta?.width, meta?.height, maxPixels);
  }
  if (format === 'BMP') return 'BMP is not supported (sharp has no BMP decoder): convert it to PNG';
  if (format === 'HEIC') return 'HEIC is not supported by the prebuilt sharp (AVIF is): convert it to JPEG';
  if (/unsupported image format/i.test(msg)) return 'not an image (unrecognised format)';
  // libvips keeps one error buffer per process: under concurrent decodes its detail is sometimes lost
  // ("Unknown error"), so the reason names the format only and stays the same from run to run.
  if (format) return `truncated or corrupt ${format}`;
  // sharp tries text that looks like XML as SVG; libvips' parser detail means nothing to a user.
  if (/XML parse error|svgload/i.test(msg)) return 'not an image (text or a broken SVG)';
  // No known signature: whatever libvips said (its detail is per process, and sometimes lost under
  // concurrent decodes, leaving "Input buffer has corrupt header:" alone), the file is not an image.
  if (/glib:|vips|corrupt header|unknown error/i.test(msg) || !msg.trim()) return 'not an image (unrecognised or corrupt file)';
  return `cannot decode (${msg})`;
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this (default 100 MP), before decoding them. */
  maxPixels?: number;
}

function describe(source: string | Buffer | RawImage): string {
  if (typeof source === 'string') return source;
  if (isRawImage(source)) return `raw ${source.width}×${source.height}×${source.channels}`;
  return `image bytes (${source.length})`;
}

/** Several views of one image (src/preprocess/views.ts): which, and the content key that seeds them. */
export interface ViewRequest {
  spec: ViewSpec;
  /** The image's content key (sha256 hex of its bytes and the preprocessing spec). */
  contentKey: string;
}

/**
 * A file path, its bytes, or raw pixels → size×size×3 8-bit sRGB RGB, row-major; with `views`,
 * views.count such images one after the other (view 0 the same bytes as without), from one decode.
 */
export async function decodeToRgb(source: string | Buffer | RawImage, spec: PreprocessSpec, options: DecodeOptions = {}, views?: ViewRequest): Promise<Uint8Array> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const label = describe(source);
  let input: Buffer | undefined;
  let img: ReturnType<typeof sharp>;
  if (isRawImage(source)) {
    const { width, height, channels, data } = source;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0) || ![1, 3, 4].includes(channels)) {
      throw new ImageDecodeError(label, 'raw pixels need positive integer width and height and 1, 3 or 4 channels');
    }
    if (data.length !== width * height * channels) {
      throw new ImageDecodeError(label, `raw pixels hold ${data.length} bytes, ${width}×${height}×${channels} needs ${width * height * channels}`);
    }
    if (width * height > maxPixels) throw new ImageDecodeError(label, tooLarge(width, height, maxPixels));
    img = sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width, height, channels } });
  } else {
    input = typeof source === 'string' ? await readImageBytes(source) : source;
    if (input.length === 0) throw new ImageDecodeError(label, 'empty file');
    img = sharp(input, { limitInputPixels: maxPixels, failOn: 'error', animated: false, pages: 1 });
  }
  const legacy = (spec.kernel ?? DEFAULT_KERNEL) === 'sharp-linear';
  if (legacy && views && views.spec.count > 1) throw new ImageDecodeError(label, 'several views need the triangle resize kernel, not sharp-linear');
  try {
    if (legacy) return await sharpLinearResize(img, spec);
    // Full-resolution decode (no JPEG shrink-on-load: a browser cannot reproduce it), then the
    // portable kernel, which src/web/browser.ts runs on the browser's decode of the same file.
    const { data, info } = await img.rotate().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    const px = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: info.channels };
    if (views && views.spec.count > 1) return renderViews(px, spec, views.spec, views.contentKey, fastResampler());
    return resizeToSquare(px, spec, fastResampler());
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err;
    const reason = input ? await decodeReason(err, input, maxPixels) : `cannot decode (${String((err as Error).message).split('\n')[0]})`;
    throw new ImageDecodeError(label, reason);
  }
}

/** libvips' linear reduce (after shrink-on-load), for caches and models made before `triangle`. */
async function sharpLinearResize(img: ReturnType<typeof sharp>, spec: PreprocessSpec): Promise<Uint8Array> {
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
}

/** decodeToRgb then normalize. */
export async function decodeImage(source: string | Buffer | RawImage, spec: PreprocessSpec, options?: DecodeOptions): Promise<Float32Array> {
  return normalize(await decodeToRgb(source, spec, options), spec);
}

export interface DecodedBatch {
  /** The items that decoded, in input order. */
  items: DataItem[];
  /** items.length × size × size × 3 floats. */
  pixels: Float32Array;
  /** The items that did not decode, with the ImageDecodeError's reason. */
  failed: { item: DataItem; reason: string }[];
}

export interface DecodeBatchesOptions extends DecodeOptions {
  /** Items per yielded batch (default 16). */
  batchSize?: number;
  /**
   * Decodes in flight at once (default 4, libuv's default thread-pool size: sharp runs there, so
   * more only queue unless UV_THREADPOOL_SIZE is raised).
   */
  concurrency?: number;
}

/**
 * Runs at most `n` of the given tasks at once, in the order they were handed in (p-limit: the one
 * concurrency primitive of the project, also used by precompute).
 */
export function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  return pLimit(n);
}

/**
 * Decodes items in batches, with the next batch already decoding while the caller works on the
 * current one (sharp runs on libuv's threads, so this overlaps with inference on the JS thread).
 * A file that fails lands in `failed`; it never ends the iteration.
 */
export async function* decodeBatches(items: DataItem[], spec: PreprocessSpec, options: DecodeBatchesOptions = {}): AsyncGenerator<DecodedBatch> {
  const bs = Math.max(1, Math.floor(options.batchSize ?? 16));
  const limit = limiter(Math.max(1, Math.floor(options.concurrency ?? 4)));
  const px = spec.size * spec.size * 3;
  type Outcome = { item: DataItem; d: Float32Array } | { item: DataItem; reason: string };
  const start = async (from: number): Promise<DecodedBatch> => {
    const results: Outcome[] = await Promise.all(
      items.slice(from, from + bs).map((item) =>
        limit(() => decodeImage(item.source, spec, options)).then(
          (d): Outcome => ({ item, d }),
          (err: unknown): Outcome => ({ item, reason: err instanceof ImageDecodeError ? err.reason : String((err as Error).message ?? err) }),
        ),
      ),
    );
    const ok = results.filter((r): r is { item: DataItem; d: Float32Array } => 'd' in r);
    const pixels = new Float32Array(ok.length * px);
    ok.forEach((r, j) => pixels.set(r.d, j * px));
    return { items: ok.map((r) => r.item), pixels, failed: results.filter((r): r is { item: DataItem; reason: string } => 'reason' in r) };
  };
  let next = items.length ? start(0) : undefined;
  for (let from = 0; next; from += bs) {
    const current = next;
    // Queued before awaiting `current`: the limiter runs this batch's decodes as soon as threads free up.
    next = from + bs < items.length ? start(from + bs) : undefined;
    yield await current;
  }
}
