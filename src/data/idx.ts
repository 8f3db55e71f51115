/**
 * IDX files, the format of MNIST and Fashion-MNIST: a big-endian header (two zero bytes, a type
 * byte — 0x08 for unsigned bytes —, the number of dimensions, then each dimension as uint32),
 * followed by the values. `.gz` files are gunzipped.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { DataItem, Dataset } from './types.js';
import { DatasetError } from './csv.js';

/** Fashion-MNIST's classes in label order, spelled as safe folder names. */
export const FASHION_MNIST_CLASSES = ['tshirt_top', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle_boot'];

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export function parseIdx(buf: Uint8Array, file = 'idx'): IdxArray {
  const b = buf[0] === 0x1f && buf[1] === 0x8b ? gunzipSync(buf) : buf;
  if (b.length < 4 || b[0] !== 0 || b[1] !== 0) throw new DatasetError(`${file}: not an IDX file (bad magic number)`);
  if (b[2] !== 0x08) throw new DatasetError(`${file}: IDX type 0x${b[2].toString(16)} is not supported (only unsigned bytes, 0x08)`);
  const nd = b[3];
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 4 + 4 * nd) throw new DatasetError(`${file}: truncated IDX header`);
  const dims = Array.from({ length: nd }, (_, i) => view.getUint32(4 + 4 * i));
  const n = dims.reduce((a, d) => a * d, 1);
  const start = 4 + 4 * nd;
  if (b.length - start < n) throw new DatasetError(`${file}: IDX data truncated: ${b.length - start} of ${n} bytes`);
  return { dims, data: b.subarray(start, start + n) };
}

export function encodeIdx(dims: number[], data: Uint8Array, gzip = false): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = 0x08;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  const raw = Buffer.concat([head, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
  return gzip ? gzipSync(raw) : raw;
}

export async function writeIdx(file: string, dims: number[], data: Uint8Array): Promise<void> {
  await fs.writeFile(file, encodeIdx(dims, data, file.endsWith('.gz')));
}

/** The labels file beside an images file, by the usual naming (…-images-idx3-ubyte ↔ …-labels-idx1-ubyte). */
export function labelsFileFor(imagesFile: string): string {
  const base = path.basename(imagesFile);
  const guess = base.replace('images', 'labels').replace('idx3', 'idx1');
  if (guess === base) throw new DatasetError(`${imagesFile}: cannot guess the labels file; name it (labels option)`);
  return path.join(path.dirname(imagesFile), guess);
}

export interface ReadIdxOptions {
  labels?: string;
  classNames?: string[];
  offset?: number;
  limit?: number;
}

export async function readIdx(imagesFile: string, options: ReadIdxOptions = {}): Promise<Dataset> {
  const labelsFile = options.labels ?? labelsFileFor(imagesFile);
  const read = async (f: string) => {
    try {
      return await fs.readFile(f);
    } catch (err) {
      throw new DatasetError(`${f}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  const images = parseIdx(await read(imagesFile), imagesFile);
  const labels = parseIdx(await read(labelsFile), labelsFile);
  if (images.dims.length !== 3) throw new DatasetError(`${imagesFile}: expected N×rows×cols images, got dims [${images.dims}]`);
  const [n, rows, cols] = images.dims;
  if (labels.dims.length !== 1 || labels.dims[0] !== n) throw new DatasetError(`${labelsFile}: expected ${n} labels, got dims [${labels.dims}]`);
  const maxLabel = labels.data.reduce((m, v) => Math.max(m, v), 0);
  const names = options.classNames ?? (maxLabel < 10 ? FASHION_MNIST_CLASSES : Array.from({ length: maxLabel + 1 }, (_, i) => String(i)));
  if (maxLabel >= names.length) throw new DatasetError(`${labelsFile}: label ${maxLabel} has no class name (${names.length} given)`);
  const from = options.offset ?? 0;
  const to = Math.min(n, from + (options.limit ?? n));
  const items: DataItem[] = [];
  const px = rows * cols;
  for (let i = from; i < to; i++) {
    items.push({ id: `idx:${i}`, source: { width: cols, height: rows, channels: 1, data: images.data.subarray(i * px, (i + 1) * px) }, labels: [names[labels.data[i]]] });
  }
  // The whole vocabulary, sorted as class folders are, so a slice and a PNG copy get the same header.
  return { root: path.resolve(imagesFile), items, classes: [...names].sort(), multiLabel: false, skipped: [] };
}
