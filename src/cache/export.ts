/**
 * Export to files any tool reads: `features.npy` (NumPy format 1.0, shape [N, ...featureShape], the
 * cache's own dtype, so uint8 stays uint8) and `manifest.json` ({header, rows: [{key, id, source,
 * labels}]}, row i ↔ features[i], key order). lmdb-js writes LMDB data format 2, which the stock
 * LMDB 0.9.x inside py-lmdb and Debian's liblmdb cannot open (MDB_INVALID), hence this route.
 * Files are written under temporary names and renamed, so a crash never leaves a half export that
 * looks whole.
 */
import { closeSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { CacheDtype } from './header.js';
import { FeatureCache } from './store.js';

const NPY_DESCR: Record<CacheDtype, string> = { float32: '<f4', float16: '<f2', uint8: '|u1' };

/** NPY 1.0 preamble: magic, version, header length, then a Python dict literal padded to 64 bytes. */
export function npyHeader(dtype: CacheDtype, shape: number[]): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${NPY_DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = 10 + dict.length + 1;
  dict += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = Buffer.alloc(10 + dict.length);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(dict.length, 8);
  out.write(dict, 10, 'latin1');
  return out;
}

export interface ExportResult {
  dir: string;
  count: number;
  featuresPath: string;
  manifestPath: string;
}

export async function exportCache(dir: string, outDir: string): Promise<ExportResult> {
  const cache = FeatureCache.open(dir, { readonly: true });
  try {
    mkdirSync(outDir, { recursive: true });
    const metas = cache.metas();
    const featuresPath = join(outDir, 'features.npy');
    const manifestPath = join(outDir, 'manifest.json');
    const tmp = `${featuresPath}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, npyHeader(cache.header.dtype, [metas.length, ...cache.header.featureShape]));
      for (const m of metas) {
        const raw = cache.rawFeatures(Buffer.from(m.key, 'utf8'));
        if (!raw) throw new Error(`entry ${m.id} vanished during export`);
        writeSync(fd, raw);
      }
    } finally {
      closeSync(fd);
    }
    const manifest = { header: cache.header, rows: metas.map((m) => ({ key: m.key, id: m.id, source: m.source, labels: m.labels })) };
    writeFileSync(`${manifestPath}.tmp`, JSON.stringify(manifest));
    renameSync(tmp, featuresPath);
    renameSync(`${manifestPath}.tmp`, manifestPath);
    return { dir: outDir, count: metas.length, featuresPath, manifestPath };
  } finally {
    await cache.close();
  }
}
