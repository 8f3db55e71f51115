/**
 * Export to files any tool reads: `features.npy` (NumPy format 1.0, shape [N, ...featureShape], or
 * [N, views, ...featureShape] for a cache of several views, in the cache's own dtype, so uint8 stays uint8) and `manifest.json` ({header, rows: [{key, id, source,
 * labels}]}, row i ↔ features[i], key order). lmdb-js writes LMDB data format 2, which the stock
 * LMDB 0.9.x inside py-lmdb and Debian's liblmdb cannot open (MDB_INVALID), hence this route.
 * Files are written under temporary names and renamed, so a crash never leaves a half export that
 * looks whole.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { CacheDtype } from './header.js';
import { FeatureCache, parseEntryMeta } from './store.js';

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

/** Gathers small writes into ~1 MiB ones. */
class WriteBuffer {
  private readonly buf = Buffer.alloc(1 << 20);
  private used = 0;
  constructor(private readonly fd: number) {}

  write(bytes: Uint8Array): void {
    if (bytes.length > this.buf.length - this.used) this.flush();
    if (bytes.length >= this.buf.length) {
      writeSync(this.fd, bytes);
      return;
    }
    this.buf.set(bytes, this.used);
    this.used += bytes.length;
  }

  flush(): void {
    let done = 0;
    while (done < this.used) done += writeSync(this.fd, this.buf, done, this.used - done);
    this.used = 0;
  }
}

/**
 * Streams the cache out in one pass in key order: the features file and the manifest are written
 * entry by entry, so memory stays flat however large the cache (docs/scale.md).
 */
export async function exportCache(dir: string, outDir: string): Promise<ExportResult> {
  const cache = FeatureCache.open(dir, { readonly: true });
  try {
    mkdirSync(outDir, { recursive: true });
    const featuresPath = join(outDir, 'features.npy');
    const manifestPath = join(outDir, 'manifest.json');
    const tmpFeatures = `${featuresPath}.${process.pid}.tmp`;
    const tmpManifest = `${manifestPath}.${process.pid}.tmp`;
    // The count goes in the NPY header, before the rows; the rows that follow must match it.
    const count = cache.count;
    const fd = openSync(tmpFeatures, 'w');
    const md = openSync(tmpManifest, 'w');
    let written = 0;
    try {
      const features = new WriteBuffer(fd);
      const manifest = new WriteBuffer(md);
      features.write(npyHeader(cache.header.dtype, [count, ...(cache.views > 1 ? [cache.views] : []), ...cache.header.featureShape]));
      manifest.write(Buffer.from(`{"header":${JSON.stringify(cache.header)},"rows":[`));
      for (const { key, meta } of cache.entryRange()) {
        const m = parseEntryMeta(meta);
        const raw = cache.rawFeatures(key);
        if (!raw) throw new Error(`${dir}: entry ${m.id} vanished during export; rerun it`);
        if (written === count) throw new Error(`${dir}: the cache grew during export (a writer is running); rerun it when the writer is done`);
        features.write(raw);
        const row = JSON.stringify({ key: key.toString('utf8'), id: m.id, source: m.source, labels: m.labels });
        manifest.write(Buffer.from(written === 0 ? row : `,${row}`));
        written++;
      }
      manifest.write(Buffer.from(']}'));
      features.flush();
      manifest.flush();
      if (written !== count) throw new Error(`${dir}: ${written} entries read but the cache counted ${count} (a writer changed it during export); rerun it`);
    } catch (err) {
      // No half export that looks whole: the temporaries go.
      closeSync(fd);
      closeSync(md);
      rmSync(tmpFeatures, { force: true });
      rmSync(tmpManifest, { force: true });
      throw err;
    }
    closeSync(fd);
    closeSync(md);
    renameSync(tmpFeatures, featuresPath);
    renameSync(tmpManifest, manifestPath);
    return { dir: outDir, count, featuresPath, manifestPath };
  } finally {
    await cache.close();
  }
}
