/**
 * Writes a synthetic feature cache of any size, for trying readers and training at scale without
 * running a backbone (docs/scale.md). Entries look like MobileNetV2 `out_relu` maps stored as uint8
 * (7×7×1280 by default): each is the average of its class's fixed random prototype and a random
 * noise window, so a linear head can learn the classes and nothing compresses away. Entry i is a
 * pure function of (seed, i): a rerun resumes where a killed one stopped.
 *
 *   npx tsx scripts/synth-cache.ts --out /tmp/synth-1e5 --entries 100000 [--classes 10]
 *                                  [--shape 7,7,1280] [--dtype uint8] [--seed 0]
 */
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { scriptArgs } from './script-args.js';
import { FeatureCache, makeHeader, type CacheDtype, type CacheHeader, type EntryMeta } from '../src/cache/index.js';
import { Rng } from '../src/base/random.js';

export interface SyntheticCacheArgs {
  dir: string;
  entries: number;
  classes?: number;
  /** [H, W, C]; default [7, 7, 1280]. */
  shape?: number[];
  /** Storage type; default uint8 (1 byte per value). */
  dtype?: CacheDtype;
  seed?: number;
  /** Entries per write transaction; default 256. */
  batch?: number;
  onProgress?: (done: number, total: number) => void;
}

export function syntheticHeader(args: Pick<SyntheticCacheArgs, 'classes' | 'shape' | 'dtype'>): CacheHeader {
  const k = args.classes ?? 10;
  return makeHeader({
    backbone: { id: 'synthetic', weightsHash: 'synthetic-0', cut: 'out_relu', kind: 'layers' },
    preprocess: { size: 224, range: [0, 1], fit: 'cover' },
    featureShape: args.shape ?? [7, 7, 1280],
    dtype: args.dtype ?? 'uint8',
    classes: Array.from({ length: k }, (_, i) => `class-${String(i).padStart(2, '0')}`),
    multiLabel: false,
    createdAt: '2026-01-01T00:00:00.000Z',
  });
}

/** The id of entry i; its key is a hash of it, so key order (row order) is unrelated to class. */
export const syntheticId = (i: number): string => `synthetic/${String(i).padStart(9, '0')}.png`;
const keyOf = (id: string): string => createHash('sha256').update(id).digest('hex');

/** Writes entries 0 … entries−1 that the cache lacks; returns the time spent and the count. */
export async function writeSyntheticCache(args: SyntheticCacheArgs): Promise<{ seconds: number; written: number; count: number }> {
  const t0 = performance.now();
  const header = syntheticHeader(args);
  const cache = FeatureCache.create(args.dir, header);
  try {
    const k = header.classes.length;
    const bytesPer = cache.codec.byteLength(cache.featureSize);
    const rng = new Rng(args.seed ?? 0);
    // Class prototypes (ReLU6-like: a third of the values are zero) and one noise pool to window.
    const protos = Array.from({ length: k }, () => {
      const p = new Uint8Array(bytesPer);
      for (let j = 0; j < bytesPer; j++) p[j] = rng.uniform() < 0.35 ? 0 : Math.floor(rng.uniform() * 256);
      return p;
    });
    const pool = new Uint8Array(bytesPer + (1 << 16));
    for (let j = 0; j < pool.length; j++) pool[j] = Math.floor(rng.uniform() * 256);
    const have = cache.count;
    let written = 0;
    let batch: { key: string; meta: EntryMeta; bytes: Uint8Array }[] = [];
    const flush = () => {
      if (batch.length) cache.putEncodedMany(batch);
      written += batch.length;
      batch = [];
      args.onProgress?.(written + have, args.entries);
    };
    for (let i = 0; i < args.entries; i++) {
      const id = syntheticId(i);
      const key = keyOf(id);
      if (have && cache.has(key)) continue;
      const c = i % k;
      const off = parseInt(key.slice(0, 8), 16) % (1 << 16);
      const proto = protos[c]!;
      const bytes = new Uint8Array(bytesPer);
      for (let j = 0; j < bytesPer; j++) bytes[j] = (proto[j]! + pool[off + j]!) >>> 1;
      batch.push({ key, meta: { id, source: id, labels: [header.classes[c]!] }, bytes });
      if (batch.length >= (args.batch ?? 256)) flush();
    }
    flush();
    return { seconds: (performance.now() - t0) / 1000, written, count: cache.count };
  } finally {
    await cache.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const usage = 'usage: npx tsx scripts/synth-cache.ts --out DIR --entries N [--classes 10] [--shape 7,7,1280] [--dtype uint8|float16|float32] [--seed 0]';
  const values = scriptArgs(
    {
      out: { type: 'string' },
      entries: { type: 'string' },
      classes: { type: 'string', default: '10' },
      shape: { type: 'string', default: '7,7,1280' },
      dtype: { type: 'string', default: 'uint8' },
      seed: { type: 'string', default: '0' },
    },
    usage,
  );
  const entries = Number(values.entries);
  const classes = Number(values.classes);
  const shape = values.shape!.split(',').map(Number);
  if (!values.out || !(Number.isInteger(entries) && entries > 0) || !(Number.isInteger(classes) && classes > 0) || shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0) || !['uint8', 'float16', 'float32'].includes(values.dtype!)) {
    console.error(usage);
    process.exit(2);
  }
  let last = 0;
  try {
    const r = await writeSyntheticCache({
      dir: values.out,
      entries,
      classes,
      shape,
      dtype: values.dtype as CacheDtype,
      seed: Number(values.seed),
      onProgress: (done, total) => {
        if (performance.now() - last > 5000) {
          last = performance.now();
          console.error(`synth-cache: ${done}/${total}`);
        }
      },
    });
    console.log(`${values.out}: ${r.count} entries (${r.written} written in ${r.seconds.toFixed(1)} s)`);
  } catch (err) {
    console.error(`synth-cache: ${(err as Error).message}`);
    process.exit(1);
  }
}
