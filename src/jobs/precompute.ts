/**
 * Precompute: run the frozen backbone once over a dataset and keep its activations in a feature
 * cache, so heads train in seconds and α sweeps are cheap.
 *
 * - Resumable: every entry is keyed by sha256(image bytes ‖ preprocessing spec ‖ id); a re-run
 *   skips entries whose key is already there without touching the backbone, recomputes a changed
 *   file, and drops entries whose file is gone (reported).
 * - Crash-safe: each batch is one lmdb transaction, so a kill leaves whole entries only.
 * - Parallel: one ONNX Runtime session over every core, or one TF.js backbone per worker thread;
 *   sharp decodes the next batch on libuv's threads while the backbone runs.
 * - In three steps: plan (what is missing), run (decode → backbone → cache), record (skips).
 * - Shardable: `shard: {index, count}` takes the items whose id hashes to `index` mod `count`, so
 *   shards are disjoint, cover the dataset, and do not shift when files are added elsewhere.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { startExtractor, type Extractor, type ExtractorInfo } from '../engine/extractor.js';
import type { EngineName } from '../engine/index.js';
import type { PreprocessSpec } from '../backbone/types.js';
import { loadDataset } from '../data/index.js';
import { decodeToRgb, normalize, readErrorReason } from '../data/image.js';
import { DecodePool, DecodePoolError } from '../data/decode-pool.js';
import type { DataItem, Dataset, RawImage } from '../data/types.js';
import { FeatureCache, makeHeader, type CacheHeader, type SkippedItem } from '../cache/index.js';
import { Progress } from '../base/progress.js';
import { OptionError } from '../base/errors.js';
import { DEFAULT_KERNEL } from '../preprocess/index.js';
import { viewSpec } from '../preprocess/views.js';
import { parseOptions } from '../base/options.js';
import { PRECOMPUTE_DEFAULTS, precomputeOptionsSchema, type PrecomputeArgs, shardOfText } from './precompute-options.js';

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
  /** Seconds before the first batch: dataset listing, backbone start-up (load, convert), planning. */
  startSeconds: number;
  /** Seconds of the batch pipeline (decode → backbone → cache). */
  runSeconds: number;
  /**
   * Seconds batches spent waiting for or inside the backbone, summed over batches: for the onnx
   * engine (one batch at a time) near runSeconds means the backbone limits, far below means decoding does.
   */
  backboneSeconds: number;
  /** The TF.js backend (of the workers on engine tfjs; of the process on engine onnx). */
  backend: string;
  engine: EngineName;
  /** What ran the backbone, in words: `onnxruntime 1.30.0 (cpu, 2 threads)` or `TF.js wasm, 2 worker(s)`. */
  runtime: string;
  /** Batches run at once: TF.js workers, or 1 ONNX session using every core. */
  workers: number;
  /** uint8 caches: the largest |x − dequantized x| seen so far, and clipped values. */
  quantization?: { maxError: number; clipped: number; values: number };
}

/** Parses `i/n` (0-based i). */
export function parseShard(text: string): Shard {
  const s = shardOfText(text);
  if (!s) throw new Error(`--shard ${text}: use i/n with 0 ≤ i < n, e.g. 0/4`);
  const { index, count } = s;
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

/**
 * sha256 of an image's bytes and its preprocessing, hex: the first half of its cache key, and the
 * seed of its views (src/preprocess/views.ts), so `predict --tta` recomputes a cached image's views.
 */
export function contentKey(content: Uint8Array, spec: PreprocessSpec): string {
  return createHash('sha256').update(content).update('\u0000').update(specJson(spec)).digest('hex');
}

/** The cache key of an item: its content, how it is preprocessed, and its id (so duplicates stay two samples). */
export function entryKey(content: Uint8Array, spec: PreprocessSpec, id: string): string {
  const idPart = createHash('sha256').update(id).digest('hex').slice(0, 16);
  return `${contentKey(content, spec)}.${idPart}`;
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

/** What a run has to do, decided before any image goes through the backbone. */
export interface PrecomputePlan {
  /** Items whose entry is missing or stale, in dataset order. */
  todo: Loaded[];
  reused: number;
  removed: number;
  /** The reader's skips (in its order) and unreadable files. */
  skipped: SkippedItem[];
  /** How many of `skipped` came from the reader (the rest are sorted at the end). */
  fromReader: number;
  conflicts: string[];
}

/**
 * Plan: hash every file (cheap next to the backbone) and compare keys with the cache. Entries whose
 * file is gone from (this shard of) the dataset are deleted here.
 */
async function plan(args: PrecomputeArgs, dataset: Dataset, items: DataItem[], cache: FeatureCache, spec: PreprocessSpec): Promise<PrecomputePlan> {
  const skipped: SkippedItem[] = dataset.skipped.filter((s) => inShard(s.source, args.shard)).map((s) => ({ source: s.source, reason: s.reason }));
  const fromReader = skipped.length;
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
    let content: Uint8Array;
    if (typeof item.source === 'string') {
      try {
        content = await fs.readFile(item.source);
      } catch (err) {
        skipped.push({ source: item.source, reason: readErrorReason(err) });
        continue;
      }
    } else {
      content = rawBytes(item.source);
    }
    const key = entryKey(content, spec, item.id);
    const contentKey = key.slice(0, key.indexOf('.'));
    const twin = firstByContent.get(contentKey);
    if (!twin) firstByContent.set(contentKey, item);
    else if (twin.labels.join('|') !== item.labels.join('|')) conflicts.push(`${twin.id} (${twin.labels.join('|')}) = ${item.id} (${item.labels.join('|')})`);
    if (index.get(item.id)?.key === key) {
      reused++;
      continue;
    }
    // Keep only what is needed: files are re-read when their batch comes, not held all at once.
    todo.push({ item, key, source: item.source });
  }
  if (conflicts.length) {
    args.log?.(`${conflicts.length} image(s) appear with different labels (identical bytes), e.g. ${conflicts.slice(0, 3).join('; ')}`);
  }
  return { todo, reused, removed, skipped, fromReader, conflicts };
}

/**
 * Decode threads (DecodePool): `MIXHEAD_DECODE_THREADS` when set (0 decodes on this thread: sharp on
 * libuv's pool, the resize here); otherwise the number of cores, or none for fewer than
 * POOL_MIN_ITEMS items, where the threads' start-up (~0.2 s of CPU each, loading sharp) would cost
 * more than they save.
 */
const POOL_MIN_ITEMS = 64;
function decodeThreads(items: number): number {
  const env = process.env.MIXHEAD_DECODE_THREADS;
  if (env != null && env !== '' && Number.isInteger(Number(env)) && Number(env) >= 0) return Number(env);
  if (items < POOL_MIN_ITEMS) return 0;
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

/** Decodes at once without the pool: libuv's thread pool runs sharp, so more than its size only queue. */
function decodeConcurrency(): number {
  const uv = Number(process.env.UV_THREADPOOL_SIZE);
  return Number.isInteger(uv) && uv > 0 ? uv : 4;
}

/**
 * Run: batches flow decode → backbone → cache. At most `extractor.size + 1` batches are in flight
 * (each holds its decoded pixels), so decoding the next batch overlaps the backbone while memory
 * stays bounded; the batch limiter is the backpressure. Each batch is one lmdb transaction, so a
 * kill leaves whole entries only. After the first failure queued batches return at once; those in
 * flight finish (never left to reject unobserved, or to write after close).
 */
async function run(args: PrecomputeArgs, work: PrecomputePlan, extractor: Extractor, cache: FeatureCache, batchSize: number, pool: DecodePool | undefined): Promise<{ computed: number; replaced: number; backboneSeconds: number }> {
  const spec = extractor.info.preprocess;
  // Every view of an image goes through the backbone; the views of a sample are one cache entry.
  const views = cache.views;
  const viewsMade = cache.header.views;
  const px = spec.size * spec.size * 3 * views;
  const progress = new Progress({ label: 'precompute', total: work.todo.length, unit: 'img/s', quiet: args.progress === false });
  const decodeLimit = pLimit(decodeConcurrency());
  const batchLimit = pLimit(extractor.size + 1);
  let computed = 0;
  let replaced = 0;
  let done = 0;
  // Time inside the backbone calls (queueing for a slot included): the profile of a run.
  let backboneMs = 0;
  let failure: { err: unknown } | undefined;
  const decode = async (b: Loaded) => {
    const label = typeof b.item.source === 'string' ? b.item.source : b.item.id;
    try {
      // 8-bit RGB (size² × 3 bytes), from the decode threads; normalised straight into the batch's floats below.
      const request = viewsMade ? { spec: viewsMade, contentKey: b.key.slice(0, b.key.indexOf('.')) } : undefined;
      return await (pool ? pool.decode(b.source, spec, label, undefined, request) : decodeLimit(() => decodeToRgb(b.source, spec, {}, request)));
    } catch (err) {
      if (err instanceof DecodePoolError) throw err;
      const reason = (err as { reason?: string }).reason ?? readErrorReason(err);
      work.skipped.push({ source: label, reason });
      return undefined;
    }
  };
  const runBatch = async (batch: Loaded[]) => {
    if (failure) return;
    const decoded = await Promise.all(batch.map(decode));
    const ok = batch.filter((_, i) => decoded[i]);
    if (ok.length) {
      const pixels = new Float32Array(ok.length * px);
      let j = 0;
      decoded.forEach((d) => d && normalize(d, spec, pixels.subarray(px * j, px * ++j)));
      const tb = performance.now();
      const features = await extractor.extract(pixels, ok.length * views);
      backboneMs += performance.now() - tb;
      const size = features.length / ok.length;
      let result;
      try {
        result = cache.putMany(
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
    progress.update(done, `${work.skipped.length} skipped`);
  };
  const batches: Promise<void>[] = [];
  // batchSize counts backbone images: an image of N views brings N of them.
  const perBatch = Math.max(1, Math.floor(batchSize / views));
  for (let i = 0; i < work.todo.length; i += perBatch) {
    const batch = work.todo.slice(i, i + perBatch);
    // A queued batch holds only its slice of the plan; it decodes when the limiter starts it.
    batches.push(
      batchLimit(() => runBatch(batch)).catch((err: unknown) => {
        failure ??= { err };
      }),
    );
  }
  await Promise.all(batches);
  progress.finish();
  if (failure) throw failure.err;
  return { computed, replaced, backboneSeconds: backboneMs / 1000 };
}

/** Record: skips in a stable order, written to the cache with the run's totals. */
async function record(args: PrecomputeArgs, work: PrecomputePlan, cache: FeatureCache): Promise<void> {
  // Sort the skips found while reading and decoding, so runs and reruns list them alike.
  const late = work.skipped.splice(work.fromReader).sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
  work.skipped.push(...late);
  try {
    cache.recordSkipped(work.skipped);
  } catch (err) {
    throw await cacheWriteError(args.cache, err);
  }
}

function openCache(args: PrecomputeArgs, dataset: Dataset, info: ExtractorInfo): FeatureCache {
  const header = makeHeader({
    backbone: { id: info.id, weightsHash: info.weightsHash, cut: info.cut, kind: info.kind },
    preprocess: info.preprocess,
    featureShape: info.featureShape,
    dtype: args.dtype ?? PRECOMPUTE_DEFAULTS.dtype,
    classes: dataset.classes,
    multiLabel: dataset.multiLabel,
    engine: info.engine,
    views: viewSpec(args.views ?? PRECOMPUTE_DEFAULTS.views, args.flip ?? PRECOMPUTE_DEFAULTS.flip),
  });
  if (header.views && (header.preprocess.kernel ?? DEFAULT_KERNEL) === 'sharp-linear') {
    throw new OptionError(`--views ${header.views.count}: views are cut from the decoded image, which needs the triangle resize kernel, not sharp-linear`);
  }
  // create() opens an existing cache too, and refuses one whose header differs (the engine is not compared).
  return FeatureCache.create(args.cache, header, { onNotice: args.log });
}

export async function precompute(input: PrecomputeArgs): Promise<PrecomputeResult> {
  const t0 = performance.now();
  const args = parseOptions(precomputeOptionsSchema, input) as PrecomputeArgs;
  const dataset: Dataset = await loadDataset(args.data);
  const items = dataset.items.filter((it) => inShard(it.id, args.shard));
  const batchSize = args.batchSize ?? PRECOMPUTE_DEFAULTS.batchSize;
  // The decode threads start now, so that their start-up overlaps loading the backbone and the plan.
  const threads = items.length ? decodeThreads(items.length) : 0;
  const pool = threads > 0 ? new DecodePool(threads) : undefined;
  const extractor = await startExtractor({
    backbone: { ...args.backbone, preprocess: { ...args.backbone?.preprocess, ...(args.size ? { size: args.size } : {}) } },
    workers: args.workers,
    backend: args.backend,
    engine: args.engine,
    log: args.log,
  }).catch(async (err: unknown) => {
    await pool?.close();
    throw err;
  });
  let cache: FeatureCache | undefined;
  try {
    const info = extractor.info;
    try {
      cache = openCache(args, dataset, info);
    } catch (err) {
      // A header mismatch or a bad folder says so itself; only raw write failures are reworded.
      if (typeof (err as { code?: unknown }).code === 'number' || (err as { code?: unknown }).code === 'ENOSPC') throw await cacheWriteError(args.cache, err);
      throw err;
    }
    if (dataset.hidden) args.log?.(`ignored ${dataset.hidden} hidden entries (names starting with a dot, such as .DS_Store)`);
    const work = await plan(args, dataset, items, cache, info.preprocess);
    const t1 = performance.now();
    const { computed, replaced, backboneSeconds } = await run(args, work, extractor, cache, batchSize, pool);
    const runSeconds = (performance.now() - t1) / 1000;
    await record(args, work, cache);
    const stats = cache.quantizationStats();
    const seconds = (performance.now() - t0) / 1000;
    return {
      cache: path.resolve(args.cache),
      header: cache.header,
      items: items.length,
      computed,
      reused: work.reused,
      removed: work.removed,
      replaced,
      skipped: work.skipped,
      hidden: dataset.hidden ?? 0,
      labelConflicts: work.conflicts,
      backboneImages: extractor.imagesExtracted,
      total: cache.count,
      seconds,
      imagesPerSecond: computed / seconds,
      startSeconds: (t1 - t0) / 1000,
      runSeconds,
      backboneSeconds,
      backend: info.backend,
      engine: info.engine,
      runtime: info.runtime,
      workers: extractor.size,
      quantization: stats ? { maxError: stats.maxError, clipped: stats.clipped, values: stats.values } : undefined,
    };
  } finally {
    await pool?.close();
    await extractor.close();
    await cache?.close();
  }
}
