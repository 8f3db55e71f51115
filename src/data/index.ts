/** Dataset readers: class folders, labels CSV, IDX. `loadDataset` picks one from the path. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Dataset } from './types.js';
import { readClassFolders } from './folder.js';
import { readCsv, DatasetError } from './csv.js';
import { readIdx, type ReadIdxOptions } from './idx.js';

export * from './types.js';
export { readClassFolders, IMAGE_EXTENSIONS } from './folder.js';
export { readCsv, parseCsv, DatasetError } from './csv.js';
export { readIdx, parseIdx, encodeIdx, writeIdx, FASHION_MNIST_CLASSES } from './idx.js';
export { decodeImage, decodeToRgb, decodeBatches, normalize, hashBytes, ImageDecodeError, DEFAULT_MAX_PIXELS } from './image.js';
export { writeFashionSample } from './fashion.js';

export async function loadDataset(location: string, options: { idx?: ReadIdxOptions } = {}): Promise<Dataset> {
  let st;
  try {
    st = await fs.stat(location);
  } catch {
    throw new DatasetError(`${location}: no such file or folder`);
  }
  if (st.isDirectory()) return readClassFolders(location);
  const name = path.basename(location).toLowerCase();
  if (name.endsWith('.csv')) return readCsv(location);
  if (/idx\d|ubyte|\.idx|\.gz$/.test(name)) return readIdx(location, options.idx);
  throw new DatasetError(`${location}: not a dataset; give a folder with one subfolder per class, a .csv with path,labels columns, or an IDX images file`);
}
