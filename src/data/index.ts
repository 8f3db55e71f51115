/** Dataset readers: class folders, labels CSV, IDX. `loadDataset` picks one from the path. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Dataset } from './types.js';
import { readClassFolders } from './folder.js';
import { readCsv } from './csv.js';
import { readIdx, type ReadIdxOptions } from './idx.js';
import { DatasetError } from './errors.js';

export * from './types.js';
export { DatasetError } from './errors.js';
export { readClassFolders, IMAGE_EXTENSIONS } from './folder.js';
export { readCsv, parseCsv } from './csv.js';
export { readIdx, parseIdx, encodeIdx, writeIdx, labelsFileFor, FASHION_MNIST_CLASSES, type ReadIdxOptions } from './idx.js';
export {
  decodeImage,
  decodeToRgb,
  decodeBatches,
  normalize,
  hashBytes,
  readImageBytes,
  ImageDecodeError,
  DEFAULT_MAX_PIXELS,
  type DecodeOptions,
  type DecodeBatchesOptions,
  type DecodedBatch,
} from './image.js';
export { split, stratifiedIndices, type DatasetSplit } from './split.js';
export { writeFashionSample, writeFashionMultiLabel, type FashionSampleArgs } from './fashion.js';

export interface LoadDatasetOptions {
  /** For an IDX images file: its labels file (default guessed from the name), class names, offset, limit. */
  idx?: ReadIdxOptions;
  /** Shorthand for `idx.labels`. */
  labels?: string;
}

/** Names of IDX image files: `train-images-idx3-ubyte`, `….idx`, `…-ubyte.gz`, `….idx.gz`. */
const IDX_NAME = /(idx\d|ubyte|\.idx)(\.gz)?$|\.gz$/;

/**
 * A folder → class folders; a `.csv` → labels CSV; an IDX images file (`…-idx3-ubyte`, `.idx`,
 * either gzipped) → IDX with the labels file beside it. Anything else is a DatasetError listing these.
 */
export async function loadDataset(location: string, options: LoadDatasetOptions = {}): Promise<Dataset> {
  let st;
  try {
    st = await fs.stat(location);
  } catch {
    throw new DatasetError(`${location}: no such file or folder`);
  }
  if (st.isDirectory()) return readClassFolders(location);
  const name = path.basename(location).toLowerCase();
  if (name.endsWith('.csv')) return readCsv(location);
  if (IDX_NAME.test(name)) return readIdx(location, { ...options.idx, ...(options.labels ? { labels: options.labels } : {}) });
  throw new DatasetError(
    `${location}: not a dataset; give a folder with one subfolder per class, a .csv with path,labels columns, or an IDX images file (…-images-idx3-ubyte, .idx, optionally .gz) with its labels file`,
  );
}
