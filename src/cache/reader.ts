/**
 * CacheReader: the trainer's random-access view of a feature cache. Row i is the i-th entry in key
 * order at open time (a snapshot: a writer appending meanwhile does not shift rows). Features are
 * decoded straight from lmdb's memory map into caller buffers; nothing is loaded whole unless
 * loadAll() is asked for.
 */
import { FeatureCache, type EntryMeta } from './store.js';
import type { CacheHeader } from './header.js';

export interface Batch {
  /** Position of this batch in the epoch (0-based). */
  index: number;
  /** Row numbers in this batch, a view into the order given to batches(). */
  indices: Int32Array;
  /** [n, ...featureShape] (or [n, C] when pooled), row-major; n = indices.length. */
  x: Float32Array;
  /** Values per row of x. */
  rowSize: number;
}

export interface BatchOptions {
  /** Batches whose pages are faulted in ahead on lmdb's I/O thread; also the buffer ring is prefetch + 1. Default 2. */
  prefetch?: number;
  /** Yield global-average-pooled rows [n, C] instead of whole maps. */
  pooled?: boolean;
  /** Leave out a last batch smaller than batchSize. Default false. */
  dropLast?: boolean;
}

export class CacheReader {
  readonly header: CacheHeader;
  readonly size: number;
  /** Values per entry (product of featureShape). */
  readonly featureSize: number;
  /** Channels: last axis of featureShape; pooled rows have this length. */
  readonly channels: number;
  readonly keys: readonly string[];
  readonly ids: readonly string[];
  readonly sources: readonly string[];
  private readonly labels: readonly string[][];
  private readonly keyBufs: Buffer[];
  private readonly classIndex: Map<string, number>;
  private readonly scratch: Float32Array;

  private constructor(private readonly cache: FeatureCache) {
    this.header = cache.header;
    this.featureSize = cache.featureSize;
    this.channels = this.header.featureShape[this.header.featureShape.length - 1]!;
    const metas: (EntryMeta & { key: string })[] = cache.metas();
    this.size = metas.length;
    this.keys = metas.map((m) => m.key);
    this.ids = metas.map((m) => m.id);
    this.sources = metas.map((m) => m.source);
    this.labels = metas.map((m) => m.labels);
    this.keyBufs = metas.map((m) => Buffer.from(m.key, 'utf8'));
    this.classIndex = new Map(this.header.classes.map((c, i) => [c, i]));
    this.scratch = new Float32Array(this.featureSize);
  }

  /** Opens `dir` read-only; takes no lock, so it can run beside a writer. */
  static open(dir: string): CacheReader {
    return new CacheReader(FeatureCache.open(dir, { readonly: true }));
  }

  get dir(): string {
    return this.cache.dir;
  }

  labelsOf(i: number): string[] {
    this.checkRow(i);
    return this.labels[i]!;
  }

  /** Label positions in header.classes (targets for the loss). */
  classIndicesOf(i: number): number[] {
    return this.labelsOf(i).map((l) => this.classIndex.get(l)!);
  }

  private checkRow(i: number): void {
    if (!(i >= 0 && i < this.size && Number.isInteger(i))) throw new RangeError(`row ${i} outside 0..${this.size - 1}`);
  }

  private bytesOf(i: number): Uint8Array {
    this.checkRow(i);
    const b = this.cache.rawFeatures(this.keyBufs[i]!);
    if (!b) throw new Error(`cache ${this.dir}: entry ${this.ids[i]} (key ${this.keys[i]}) vanished; it changed while being read: reopen it`);
    return b;
  }

  /** Decodes rows `indices` into out[k·featureSize …] for k = 0..B−1; returns out. */
  readRows(indices: ArrayLike<number>, out: Float32Array): Float32Array {
    const F = this.featureSize;
    if (out.length < indices.length * F) throw new RangeError(`out holds ${out.length} values; ${indices.length} rows need ${indices.length * F}`);
    for (let k = 0; k < indices.length; k++) this.cache.codec.decodeInto(this.bytesOf(indices[k]!), out, k * F);
    return out;
  }

  /**
   * Global average pooling per row: out[k·C + c] = mean over (h, w) of map[h, w, c].
   * The trainer may pool before mixing because pooling is linear:
   * pool(λ·a + (1−λ)·b) = λ·pool(a) + (1−λ)·pool(b), so mixing pooled vectors gives the same
   * result as pooling mixed maps (up to float rounding) with H·W times less data.
   */
  pooled(indices: ArrayLike<number>, out: Float32Array): Float32Array {
    const C = this.channels;
    const cells = this.featureSize / C;
    if (out.length < indices.length * C) throw new RangeError(`out holds ${out.length} values; ${indices.length} pooled rows need ${indices.length * C}`);
    const map = this.scratch;
    // Accumulate in float64 so the pooled mean does not depend on the order of 49 float32 adds.
    const acc = new Float64Array(C);
    for (let k = 0; k < indices.length; k++) {
      this.cache.codec.decodeInto(this.bytesOf(indices[k]!), map, 0);
      acc.fill(0);
      for (let p = 0; p < cells; p++) {
        const base = p * C;
        for (let c = 0; c < C; c++) acc[c]! += map[base + c]!;
      }
      const o = k * C;
      for (let c = 0; c < C; c++) out[o + c] = acc[c]! / cells;
    }
    return out;
  }

  /**
   * Batches over `order` (each row once, in that order). Before a batch is decoded, the pages of the
   * next `prefetch` batches are already being faulted in on lmdb's I/O thread, so a cache larger
   * than RAM does not stall the training thread on disk. Memory stays bounded: the yielded `x`
   * comes from a ring of prefetch + 1 buffers, so it stays valid until prefetch + 1 further batches
   * have been taken; copy it to keep it longer.
   */
  async *batches(order: Int32Array, batchSize: number, options: BatchOptions = {}): AsyncGenerator<Batch> {
    if (!(batchSize >= 1 && Number.isInteger(batchSize))) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
    const prefetch = Math.max(0, Math.floor(options.prefetch ?? 2));
    const rowSize = options.pooled ? this.channels : this.featureSize;
    const nBatches = options.dropLast ? Math.floor(order.length / batchSize) : Math.ceil(order.length / batchSize);
    const ring = Array.from({ length: prefetch + 1 }, () => new Float32Array(batchSize * rowSize));
    const slice = (b: number): Int32Array => order.subarray(b * batchSize, Math.min(order.length, (b + 1) * batchSize));
    const pending = new Map<number, Promise<void>>();
    const startPrefetch = (b: number): void => {
      if (b >= nBatches || pending.has(b)) return;
      const rows = slice(b);
      for (const r of rows) this.checkRow(r);
      pending.set(b, this.cache.prefetch(Array.from(rows, (r) => this.keyBufs[r]!)));
    };
    for (let b = 0; b < Math.min(nBatches, prefetch); b++) startPrefetch(b);
    for (let b = 0; b < nBatches; b++) {
      startPrefetch(b);
      startPrefetch(b + prefetch);
      await pending.get(b);
      pending.delete(b);
      const indices = slice(b);
      const buf = ring[b % ring.length]!;
      const x = buf.subarray(0, indices.length * rowSize);
      if (options.pooled) this.pooled(indices, x);
      else this.readRows(indices, x);
      yield { index: b, indices, x, rowSize };
    }
  }

  /**
   * Every entry decoded into one array [size, ...featureShape]. For small caches only: refuses
   * above `maxBytes` (default 2 GiB) rather than exhausting memory.
   */
  loadAll(options: { maxBytes?: number; pooled?: boolean } = {}): Float32Array {
    const rowSize = options.pooled ? this.channels : this.featureSize;
    const bytes = this.size * rowSize * 4;
    const max = options.maxBytes ?? 2 ** 31;
    if (bytes > max) {
      throw new Error(`loadAll would need ${(bytes / 2 ** 20).toFixed(0)} MiB (> ${(max / 2 ** 20).toFixed(0)} MiB); use batches() or raise maxBytes`);
    }
    const all = Array.from({ length: this.size }, (_, i) => i);
    const out = new Float32Array(this.size * rowSize);
    return options.pooled ? this.pooled(all, out) : this.readRows(all, out);
  }

  close(): Promise<void> {
    return this.cache.close();
  }
}
