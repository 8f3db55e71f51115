/**
 * IDX files, the format of MNIST and Fashion-MNIST: a big-endian header (two zero bytes, a type
 * byte — 0x08 for unsigned bytes —, the number of dimensions, then each dimension as uint32),
 * followed by the values. `.gz` files are gunzipped.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { DataItem, Dataset } from './types.js';
import { DatasetError } from './errors.js';
import { readErrorReason } from './image.js';

/** Fashion-MNIST's classes in label order, spelled as safe folder names. */
export const FASHION_MNIST_CLASSES = ['tshirt_top', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle_boot'];

/** The IDX element types (LeCun's MNIST page), for error messages. */
const IDX_TYPES: Record<number, string> = { 0x08: 'unsigned byte', 0x09: 'signed byte', 0x0b: 'int16', 0x0c: 'int32', 0x0d: 'float32', 0x0e: 'float64' };

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export function parseIdx(buf: Uint8Array, file = 'idx'): IdxArray {
  let b = buf;
  if (buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      b = gunzipSync(buf);
    } catch (err) {
      throw new DatasetError(`${file}: corrupt gzip data (${(err as Error).message})`);
    }
  }
  if (b.length < 4 || b[0] !== 0 || b[1] !== 0) throw new DatasetError(`${file}: not an IDX file (bad magic number)`);
  if (b[2] !== 0x08) {
    const kind = IDX_TYPES[b[2]] ? ` (${IDX_TYPES[b[2]]})` : '';
    throw new DatasetError(`${file}: IDX type 0x${b[2].toString(16).padStart(2, '0')}${kind} is not supported; only unsigned bytes (0x08), as MNIST and Fashion-MNIST use`);
  }
  const nd = b[3];
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 4 + 4 * nd) throw new DatasetError(`${file}: truncated IDX header`);
  const dims = Array.from({ length: nd }, (_, i) => view.getUint32(4 + 4 * i));
  const n = dims.reduce((a, d) => a * d, 1);
  const start = 4 + 4 * nd;
  if (b.length - start < n) throw new DatasetError(`${file}: IDX data truncated: ${b.length - start} of ${n} bytes`);
  return { dims, data: b.subarray(start, start + n) };
}

/** An unsigned-byte IDX file's bytes (gzipped when asked). */
export function encodeIdx(dims: number[], data: Uint8Array, gzip = false): Buffer {
  const n = dims.reduce((a, d) => a * d, 1);
  if (n !== data.length) throw new DatasetError(`IDX dims [${dims}] need ${n} bytes, got ${data.length}`);
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = 0x08;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  const raw = Buffer.concat([head, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
  return gzip ? gzipSync(raw) : raw;
}

/** Writes an unsigned-byte IDX file, gzipped when the name ends in `.gz`. */
export async function writeIdx(file: string, dims: number[], data: Uint8Array): Promise<void> {
  await fs.writeFile(file, encodeIdx(dims, data, file.endsWith('.gz')));
}

/** The labels file beside an images file, by the usual naming (…-images-idx3-ubyte ↔ …-labels-idx1-ubyte). */
export function labelsFileFor(imagesFile: string): string {
  const base = path.basename(imagesFile);
  const guess = base.replace('images', 'labels').replace(/idx[34]/, 'idx1');
  if (guess === base) throw new DatasetError(`${imagesFile}: cannot guess the labels file from the name (expected "images" in it); give it with the labels option`);
  return path.join(path.dirname(imagesFile), guess);
}

export interface ReadIdxOptions {
  /** The labels file; by default guessed from the images file's name (`labelsFileFor`). */
  labels?: string;
  /** Class name of each label value; default Fashion-MNIST's when every label is below 10, else "0", "1", …. */
  classNames?: string[];
  /** First image to read (default 0). */
  offset?: number;
  /** At most this many images (default all). */
  limit?: number;
}

/**
 * Images (N×rows×cols, or N×rows×cols×channels with 1, 3 or 4 channels) and their labels (N) →
 * items with raw pixels, ids `idx:<n>` (n counts from the file's start, so a slice keeps its ids).
 * `readIdx(images, labels?, options?)`, or `readIdx(images, options)` with `options.labels`.
 */
export async function readIdx(imagesFile: string, labelsOrOptions?: string | ReadIdxOptions, more: ReadIdxOptions = {}): Promise<Dataset> {
  const options = typeof labelsOrOptions === 'string' ? { ...more, labels: labelsOrOptions } : { ...more, ...labelsOrOptions };
  const labelsFile = options.labels ?? labelsFileFor(imagesFile);
  const read = async (f: string) => {
    try {
      return await fs.readFile(f);
    } catch (err) {
      throw new DatasetError(`${f}: cannot read (${readErrorReason(err)})`);
    }
  };
  const images = parseIdx(await read(imagesFile), imagesFile);
  const labels = parseIdx(await read(labelsFile), labelsFile);
  const channels = images.dims.length === 4 ? images.dims[3] : 1;
  if (!(images.dims.length === 3 || (images.dims.length === 4 && [1, 3, 4].includes(channels)))) {
    throw new DatasetError(`${imagesFile}: expected N×rows×cols (or N×rows×cols×1|3|4) images, got dims [${images.dims}]`);
  }
  const [n, rows, cols] = images.dims;
  if (labels.dims.length !== 1 || labels.dims[0] !== n) throw new DatasetError(`${labelsFile}: expected ${n} labels (dims [${n}]), got dims [${labels.dims}]`);
  const maxLabel = labels.data.reduce((m, v) => Math.max(m, v), 0);
  const names = options.classNames ?? (maxLabel < FASHION_MNIST_CLASSES.length ? FASHION_MNIST_CLASSES : Array.from({ length: maxLabel + 1 }, (_, i) => String(i)));
  if (maxLabel >= names.length) throw new DatasetError(`${labelsFile}: label ${maxLabel} has no class name (${names.length} given)`);
  const offset = options.offset ?? 0;
  const limit = options.limit ?? n;
  if (!(Number.isInteger(offset) && offset >= 0 && Number.isInteger(limit) && limit >= 0)) {
    throw new DatasetError(`${imagesFile}: offset and limit must be non-negative integers; got ${offset}, ${limit}`);
  }
  const to = Math.min(n, offset + limit);
  const items: DataItem[] = [];
  const px = rows * cols * channels;
  for (let i = offset; i < to; i++) {
    items.push({ id: `idx:${i}`, source: { width: cols, height: rows, channels: channels as 1 | 3 | 4, data: images.data.subarray(i * px, (i + 1) * px) }, labels: [names[labels.data[i]]] });
  }
  // The whole vocabulary, sorted as class folders are, so a slice and a PNG copy get the same header.
  return { root: path.resolve(imagesFile), items, classes: [...names].sort(), multiLabel: false, skipped: [] };
}
