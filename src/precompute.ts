/**
 * Precompute: run the frozen backbone once over a dataset and keep its activations in a feature
 * cache, so heads train in seconds and α sweeps are cheap.
 *
 * - Resumable: every entry is keyed by sha256(image bytes ‖ preprocessing spec ‖ id); a re-run
 *   skips entries whose key is already there without touching the backbone, recomputes a changed
 *   file, and drops entries whose file is gone (reported).
 * - Crash-safe: each batch is one lmdb transaction, so a kill leaves whole entries only.
 * - Parallel: one backbone per worker thread; sharp decodes the next batches on libuv's threads
 *   while the workers run.
 * - Shardable: `shard: {index, count}` takes the items whose id hashes to `index` mod `count`, so
 *   shards are disjoint, cover the dataset, and do not shift when files are added elsewhere.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ExtractorPool } from './backbone/pool.js';
import type { LoadBackboneArgs } from './backbone/index.js';
import type { PreprocessSpec } from './backbone/types.js';
import { loadDataset } from './data/index.js';
import { decodeImage, readErrorReason } from './data/image.js';
import type { DataItem, Dataset, RawImage } from './data/types.js';
import { FeatureCache, makeHeader, type CacheDtype, type CacheHeader, type SkippedItem } from './cache/index.js';
import { Progress } from './progress.js';
import { parseOptions } from './options/fields.js';
import { PRECOMPUTE_DEFAULTS, precomputeOptionsSchema, type PrecomputeArgs } from './options/precompute.js';

export interface Shard {
  index: number;
  count: number;
}

// PrecomputeArgs: its schema, precomputeOptionsSchema, is in ./options/precompute.ts.
export type { PrecomputeArgs };

export interface PrecomputeResult {
  cache: string;
  header: CacheHeader;
  /** Items in (this shard of) the dataset. */
  items: number;
  /** Entries written by this run. */
  computed: number;
  /** Entries that were already cached and skipped. */
  reused: number;
  /** Entries removed because their file is gone from the dataset. */
  removed: number;
  /** Entries replaced because their file changed. */
  replaced: number;
  skipped: SkippedItem[];
  /** Hidden entries (names starting with a dot: `.DS_Store`, `.git`) the folder reader passed over. */
  /** Images whose bytes appear again under other labels: `a.png (cat) = b.png (dog)`. Both are kept. */
  labelConflicts: string[];
  hidden: number;
  /** Images that went through the backbone in this run. */
  backboneImages: number;
  /** Entries in the cache at the end. */
  total: number;
  seconds: number;
  imagesPerSecond: number;
  backend: string;
  workers: number;
  /** uint8 caches: the largest |x − dequantized x| seen so far, and clipped values. */
  quantization?: { maxError: number; clipped: number; values: number };
}

/** Parses `i/n` (0-based i). */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`--shard ${text}: use i/n with 0 ≤ i < n, e.g. 0/4`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count) throw new Error(`--shard ${text}: need 0 ≤ i < n and n ≥ 1`);
  return { index, count };
}

export function inShard(id: string, shard: Shard | undefined): boolean {
  if (!shard || shard.count === 1) return true;
  const h = createHash('sha256').update(id).digest();
  return h.readUInt32BE(0) % shard.count === shard.index;
}

function specJson(spec: PreprocessSpec): string {
  return JSON.stringify({ size: spec.size, range: spec.range, mean: spec.mean ?? null, std: spec.std ?? null, fit: spec.fit });
}

/** The cache key of an item: its content, how it is preprocessed, and its id (so duplicates stay two samples). */
export function entryKey(content: Uint8Array, spec: PreprocessSpec, id: string): string {
  const content64 = createHash('sha256').update(content).update('\u0000').update(specJson(spec)).digest('hex');
  const idPart = createHash('sha256').update(id).digest('hex').slice(0, 16);
  return `${content64}.${idPart}`;
}

function rawBytes(raw: RawImage): Uint8Array {
  const dims = Buffer.from(`${raw.width}x${raw.height}x${raw.channels}:`);
  return Buffer.concat([dims, Buffer.from(raw.data.buffer, raw.data.byteOffset, raw.data.byteLength)]);
}

/**
 * A failed cache write as one line naming the cache and the reason. lmdb reports a full disk as an
 * I/O error (its writes go through the page cache), so the free space is measured to say which.
 */
export async function cacheWriteError(dir: string, err: unknown): Promise<Error> {
  const message = String((err as Error)?.message ?? err).split('\n')[0];
  const code = (err as { code?: unknown })?.code;
  let free: number | undefined;
  try {
    const st = await fs.statfs(path.resolve(dir));
    free = Number(st.bavail) * Number(st.bsize);
  } catch {
    free = undefined;
  }
  const full = code === 'ENOSPC' || code === 28 || /no space|MDB_MAP_FULL/i.test(message) || (free != null && free < 1 << 20);
  const why = full ? `no space left on device (${free != null ? `${Math.floor(free / 1024)} KB free` : 'disk full'}; lmdb said: ${message})` : message;
  return new Error(`${dir}: cannot write the feature cache: ${why}. The entries written so far are whole; free space (or pick another --cache) and run again to resume`);
}

interface Loaded {
  item: DataItem;
  key: string;
  source: string | Buffer | RawImage;
}

export async function precompute(input: PrecomputeArgs): Promise<PrecomputeResult> {
  const t0 = performance.now();
  const args = parseOptions(precomputeOptionsSchema, input) as PrecomputeArgs;
  const dataset: Dataset = await loadDataset(args.data);
  const items = dataset.items.filter((it) => inShard(it.id, args.shard));
  const batchSize = args.batchSize ?? PRECOMPUTE_DEFAULTS.batchSize;
  const pool = await ExtractorPool.start({
    backbone: { ...args.backbone, preprocess: { ...args.backbone?.preprocess, ...(args.size ? { size: args.size } : {}) } },
    workers: args.workers,
    backend: args.backend,
  });
  let cache: FeatureCache | undefined;
  try {
    const info = pool.info;
    const dtype = args.dtype ?? PRECOMPUTE_DEFAULTS.dtype;
    const header = makeHeader({
      backbone: { id: info.id, weightsHash: info.weightsHash, cut: info.cut, kind: info.kind },
      preprocess: info.preprocess,
      featureShape: info.featureShape,
      dtype,
      classes: dataset.classes,
      multiLabel: dataset.multiLabel,
    });
    // create() opens an existing cache too, and refuses one whose header differs.
    try {
      cache = FeatureCache.create(args.cache, header, { onNotice: args.log });
    } catch (err) {
      // A header mismatch or a bad folder says so itself; only raw write failures are reworded.
      if (typeof (err as { code?: unknown }).code === 'number' || (err as { code?: unknown }).code === 'ENOSPC') throw await cacheWriteError(args.cache, err);
      throw err;
    }
    if (dataset.hidden) args.log?.(`ignored ${dataset.hidden} hidden entries (names starting with a dot, such as .DS_Store)`);
    const skipped: SkippedItem[] = dataset.skipped.filter((s) => inShard(s.source, args.shard)).map((s) => ({ source: s.source, reason: s.reason }));
    // The reader's skips come in its order; later ones (reads, decodes) finish in any order.
    const fromReader = skipped.length;

    // Which items need the backbone: hash every file (cheap next to the backbone) and compare keys.
    const index = cache.index();
    const wanted = new Set(items.map((it) => it.id));
    const gone = [...index.entries()].filter(([id]) => !wanted.has(id) && inShard(id, args.shard)).map(([, v]) => v.key);
    const removed = gone.length ? cache.delete(gone) : 0;
    if (removed) args.log?.(`removed ${removed} cached entries whose files are no longer in ${args.data}`);
    const todo: Loaded[] = [];
    let reused = 0;
    // Same bytes under different labels: kept (one entry each), but worth telling the user, since
    // such twins can sit on both sides of a validation split.
    const firstByContent = new Map<string, DataItem>();
    const conflicts: string[] = [];
    for (const item of items) {
      let source: string | Buffer | RawImage;
      let content: Uint8Array;
      if (typeof item.source === 'string') {
        try {
          source = await fs.readFile(item.source);
        } catch (err) {
          skipped.push({ source: item.source, reason: readErrorReason(err) });
          continue;
        }
        content = source;
      } else {
        source = item.source;
        content = rawBytes(item.source);
      }
      const key = entryKey(content, info.preprocess, item.id);
      const contentKey = key.slice(0, key.indexOf('.'));
      const twin = firstByContent.get(contentKey);
      if (!twin) firstByContent.set(contentKey, item);
      else if (twin.labels.join('|') !== item.labels.join('|')) conflicts.push(`${twin.id} (${twin.labels.join('|')}) = ${item.id} (${item.labels.join('|')})`);
      if (index.get(item.id)?.key === key) {
        reused++;
        continue;
      }
      // Keep only what is needed: files are re-read when their batch comes, not held all at once.
      todo.push({ item, key, source: typeof item.source === 'string' ? item.source : source });
    }

    if (conflicts.length) {
      args.log?.(`${conflicts.length} image(s) appear with different labels (identical bytes), e.g. ${conflicts.slice(0, 3).join('; ')}`);
    }
    const progress = new Progress({ label: 'precompute', total: todo.length, unit: 'img/s', quiet: args.progress === false });
    let computed = 0;
    let replaced = 0;
    let done = 0;
    const inFlight = new Set<Promise<void>>();
    const runBatch = async (batch: Loaded[]) => {
      const spec = info.preprocess;
      const px = spec.size * spec.size * 3;
      const decoded = await Promise.all(
        batch.map(async (b) => {
          try {
            const src = typeof b.source === 'string' ? await fs.readFile(b.source) : b.source;
            return await decodeImage(src, spec);
          } catch (err) {
            const reason = (err as { reason?: string }).reason ?? readErrorReason(err);
            skipped.push({ source: typeof b.item.source === 'string' ? b.item.source : b.item.id, reason });
            return undefined;
          }
        }),
      );
      const ok = batch.filter((_, i) => decoded[i]);
      if (ok.length) {
        const pixels = new Float32Array(ok.length * px);
        let j = 0;
        decoded.forEach((d) => d && pixels.set(d, px * j++));
        const features = await pool.extract(pixels, ok.length);
        const size = features.length / ok.length;
        let result;
        try {
          result = cache!.putMany(
          ok.map((b, i) => ({
            key: b.key,
            id: b.item.id,
            source: typeof b.item.source === 'string' ? b.item.source : b.item.id,
            labels: b.item.labels,
            features: features.subarray(i * size, (i + 1) * size),
          })),
          );
        } catch (err) {
          throw await cacheWriteError(args.cache, err);
        }
        computed += result.written;
        replaced += result.replaced.length;
      }
      done += batch.length;
      progress.update(done, `${skipped.length} skipped`);
    };
    // Keep every worker busy plus one batch decoding ahead. The first failure stops new batches;
    // those in flight are let finish (never left to reject unobserved, or to write after close).
    const depth = pool.size + 1;
    let failure: { err: unknown } | undefined;
    for (let i = 0; i < todo.length && !failure; i += batchSize) {
      const p: Promise<void> = runBatch(todo.slice(i, i + batchSize))
        .catch((err: unknown) => {
          failure ??= { err };
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= depth) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    progress.finish();
    if (failure) throw failure.err;
    // Sort the skips found while reading and decoding, so runs and reruns list them alike.
    const late = skipped.splice(fromReader).sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
    skipped.push(...late);
    try {
      cache.recordSkipped(skipped);
    } catch (err) {
      throw await cacheWriteError(args.cache, err);
    }
    const stats = cache.quantizationStats();
    const seconds = (performance.now() - t0) / 1000;
    return {
      cache: path.resolve(args.cache),
      header: cache.header,
      items: items.length,
      computed,
      reused,
      removed,
      replaced,
      skipped,
      hidden: dataset.hidden ?? 0,
      labelConflicts: conflicts,
      backboneImages: pool.imagesExtracted,
      total: cache.count,
      seconds,
      imagesPerSecond: computed / seconds,
      backend: info.backend,
      workers: pool.size,
      quantization: stats ? { maxError: stats.maxError, clipped: stats.clipped, values: stats.values } : undefined,
    };
  } finally {
    await pool.close();
    await cache?.close();
  }
}
