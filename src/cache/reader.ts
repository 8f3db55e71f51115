/**
 * CacheReader: the trainer's random-access view of a feature cache. Row i is the i-th entry in key
 * order at open time (a snapshot: a writer appending meanwhile does not shift rows). Features are
 * decoded straight from lmdb's memory map into caller buffers; nothing is loaded whole unless
 * loadAll() is asked for. Per-row metadata lives in a few flat arrays (RowTable below), so a reader
 * over 10⁶ entries is a handful of objects, not millions (docs/scale.md, "Readers at scale").
 */
import { FeatureCache, parseEntryMeta } from './store.js';
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

/** A growable byte buffer: strings appended as UTF-8, read back by offset. */
class ByteColumn {
  private buf = Buffer.alloc(1 << 16);
  private length = 0;
  private offsets = new Float64Array(1 << 10);
  private count = 0;

  push(bytes: Uint8Array): void {
    if (this.length + bytes.length > this.buf.length) {
      const bigger = Buffer.alloc(Math.max(this.buf.length * 2, this.length + bytes.length));
      this.buf.copy(bigger, 0, 0, this.length);
      this.buf = bigger;
    }
    if (this.count + 2 > this.offsets.length) {
      const more = new Float64Array(this.offsets.length * 2);
      more.set(this.offsets);
      this.offsets = more;
    }
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
    this.offsets[++this.count] = this.length;
  }

  pushString(s: string): void {
    this.push(Buffer.from(s, 'utf8'));
  }

  /** Trims the spare capacity; call once, after the last push. */
  seal(): { bytes: Buffer; offsets: Float64Array } {
    return { bytes: Buffer.from(this.buf.subarray(0, this.length)), offsets: this.offsets.slice(0, this.count + 1) };
  }
}

/**
 * The rows of a cache in a few flat arrays (docs/scale.md, "Readers at scale"): keys, ids and
 * sources as UTF-8 bytes with offsets, labels as class indices with offsets. About 200 bytes per
 * entry for precompute's keys and paths, in a handful of objects whatever the size, where one
 * string or Buffer per field and entry costs several times that and gives the GC millions of
 * objects to trace.
 */
interface RowTable {
  keys: { bytes: Buffer; offsets: Float64Array };
  ids: { bytes: Buffer; offsets: Float64Array };
  sources: { bytes: Buffer; offsets: Float64Array };
  /** Class indices of row i: labelData[labelOffsets[i] … labelOffsets[i + 1]). */
  labelOffsets: Int32Array;
  labelData: Int32Array;
}

function readRowTable(cache: FeatureCache, dir: string): RowTable {
  const classIndex = new Map(cache.header.classes.map((c, i) => [c, i]));
  const keys = new ByteColumn();
  const ids = new ByteColumn();
  const sources = new ByteColumn();
  const labelOffsets: number[] = [0];
  let labelData = new Int32Array(1 << 10);
  let nLabels = 0;
  for (const { key, meta } of cache.entryRange()) {
    const m = parseEntryMeta(meta);
    keys.push(key);
    ids.pushString(m.id);
    sources.pushString(m.source);
    for (const l of m.labels) {
      const c = classIndex.get(l);
      if (c === undefined) throw new Error(`cache ${dir}: entry ${m.id} has label '${l}', which is not in its classes (${cache.header.classes.join(', ')})`);
      if (nLabels === labelData.length) {
        const more = new Int32Array(labelData.length * 2);
        more.set(labelData);
        labelData = more;
      }
      labelData[nLabels++] = c;
    }
    labelOffsets.push(nLabels);
  }
  return { keys: keys.seal(), ids: ids.seal(), sources: sources.seal(), labelOffsets: Int32Array.from(labelOffsets), labelData: labelData.slice(0, nLabels) };
}

export class CacheReader {
  readonly header: CacheHeader;
  readonly size: number;
  /** Values per map (product of featureShape). */
  readonly featureSize: number;
  /** Views (maps) per sample: header.views.count, or 1. */
  readonly views: number;
  /** Encoded bytes of one map. */
  private readonly mapBytes: number;
  /** Channels: last axis of featureShape; pooled rows have this length. */
  readonly channels: number;
  private readonly rows: RowTable;
  private readonly scratch: Float32Array;
  private uint8Values: Float64Array | undefined;

  private constructor(private readonly cache: FeatureCache) {
    this.header = cache.header;
    this.featureSize = cache.featureSize;
    this.views = cache.views;
    this.mapBytes = cache.codec.byteLength(cache.featureSize);
    this.channels = this.header.featureShape[this.header.featureShape.length - 1]!;
    this.rows = readRowTable(cache, cache.dir);
    this.size = this.rows.labelOffsets.length - 1;
    this.scratch = new Float32Array(this.featureSize);
  }

  /** Opens `dir` read-only; takes no lock, so it can run beside a writer. */
  static open(dir: string): CacheReader {
    return new CacheReader(FeatureCache.open(dir, { readonly: true }));
  }

  get dir(): string {
    return this.cache.dir;
  }

  /** Key of row i (the i-th key in bytewise order). */
  keyOf(i: number): string {
    return this.keyBytes(i).toString('utf8');
  }

  /** Sample id of row i. */
  idOf(i: number): string {
    this.checkRow(i);
    const { bytes, offsets } = this.rows.ids;
    return bytes.toString('utf8', offsets[i], offsets[i + 1]);
  }

  /** Where row i's image came from. */
  sourceOf(i: number): string {
    this.checkRow(i);
    const { bytes, offsets } = this.rows.sources;
    return bytes.toString('utf8', offsets[i], offsets[i + 1]);
  }

  /**
   * Every key as a string array, built on each call: for small caches and tests; at scale use keyOf(i).
   * @deprecated use keyOf(i)
   */
  get keys(): string[] {
    return Array.from({ length: this.size }, (_, i) => this.keyOf(i));
  }

  /** @deprecated use idOf(i); builds an array of every id on each call. */
  get ids(): string[] {
    return Array.from({ length: this.size }, (_, i) => this.idOf(i));
  }

  /** @deprecated use sourceOf(i); builds an array of every source on each call. */
  get sources(): string[] {
    return Array.from({ length: this.size }, (_, i) => this.sourceOf(i));
  }

  labelsOf(i: number): string[] {
    return this.classIndicesOf(i).map((c) => this.header.classes[c]!);
  }

  /** Label positions in header.classes (targets for the loss). */
  classIndicesOf(i: number): number[] {
    this.checkRow(i);
    const { labelOffsets, labelData } = this.rows;
    return Array.from(labelData.subarray(labelOffsets[i]!, labelOffsets[i + 1]!));
  }

  /** First label's class index per row, −1 for an unlabeled row (one Int32Array, no per-row objects). */
  firstLabels(): Int32Array {
    const { labelOffsets, labelData } = this.rows;
    const out = new Int32Array(this.size);
    for (let i = 0; i < this.size; i++) out[i] = labelOffsets[i + 1]! > labelOffsets[i]! ? labelData[labelOffsets[i]!]! : -1;
    return out;
  }

  /** size × classes multi-hot targets. */
  multiHot(): Float32Array {
    const k = this.header.classes.length;
    const { labelOffsets, labelData } = this.rows;
    const out = new Float32Array(this.size * k);
    for (let i = 0; i < this.size; i++) for (let j = labelOffsets[i]!; j < labelOffsets[i + 1]!; j++) out[i * k + labelData[j]!] = 1;
    return out;
  }

  /** Row i's key bytes: a view into the row table, no copy. */
  private keyBytes(i: number): Buffer {
    this.checkRow(i);
    const { bytes, offsets } = this.rows.keys;
    return bytes.subarray(offsets[i], offsets[i + 1]);
  }

  private checkRow(i: number): void {
    if (!(i >= 0 && i < this.size && Number.isInteger(i))) throw new RangeError(`row ${i} outside 0..${this.size - 1}`);
  }

  /** The encoded map of view `view` of row i. */
  private bytesOf(i: number, view = 0): Uint8Array {
    this.checkRow(i);
    if (!(view >= 0 && view < this.views && Number.isInteger(view))) throw new RangeError(`view ${view} outside 0..${this.views - 1} (cache ${this.dir})`);
    const b = this.cache.rawFeatures(this.keyBytes(i));
    if (!b) throw new Error(`cache ${this.dir}: entry ${this.idOf(i)} (key ${this.keyOf(i)}) vanished; it changed while being read: reopen it`);
    return this.views === 1 ? b : b.subarray(view * this.mapBytes, (view + 1) * this.mapBytes);
  }

  /**
   * Decodes rows `indices` into out[k·featureSize …] for k = 0..B−1; returns out. `views[k]` picks
   * the view of row k (default: view 0 for every row).
   */
  readRows(indices: ArrayLike<number>, out: Float32Array, views?: ArrayLike<number>): Float32Array {
    const F = this.featureSize;
    if (out.length < indices.length * F) throw new RangeError(`out holds ${out.length} values; ${indices.length} rows need ${indices.length * F}`);
    for (let k = 0; k < indices.length; k++) this.cache.codec.decodeInto(this.bytesOf(indices[k]!, views ? views[k]! : 0), out, k * F);
    return out;
  }

  /**
   * Global average pooling per row: out[k·C + c] = mean over (h, w) of map[h, w, c].
   * The trainer may pool before mixing because pooling is linear:
   * pool(λ·a + (1−λ)·b) = λ·pool(a) + (1−λ)·pool(b), so mixing pooled vectors gives the same
   * result as pooling mixed maps (up to float rounding) with H·W times less data.
   */
  pooled(indices: ArrayLike<number>, out: Float32Array, views?: ArrayLike<number>): Float32Array {
    const C = this.channels;
    const cells = this.featureSize / C;
    if (out.length < indices.length * C) throw new RangeError(`out holds ${out.length} values; ${indices.length} pooled rows need ${indices.length * C}`);
    const map = this.scratch;
    // Accumulate in float64 so the pooled mean does not depend on the order of 49 float32 adds.
    const acc = new Float64Array(C);
    const codec = this.cache.codec;
    if (codec.dtype === 'uint8') {
      // Straight from the bytes through the decoded values (the same float32s decodeInto writes),
      // without a pass through the scratch map: the pooling pass is bound by this loop.
      const table = this.uint8Values ??= Float64Array.from(codec.decode(Uint8Array.from({ length: 256 }, (_, q) => q)));
      for (let k = 0; k < indices.length; k++) {
        const bytes = this.bytesOf(indices[k]!, views ? views[k]! : 0);
        acc.fill(0);
        for (let p = 0; p < cells; p++) {
          const base = p * C;
          for (let c = 0; c < C; c++) acc[c]! += table[bytes[base + c]!]!;
        }
        const o = k * C;
        for (let c = 0; c < C; c++) out[o + c] = acc[c]! / cells;
      }
      return out;
    }
    for (let k = 0; k < indices.length; k++) {
      this.cache.codec.decodeInto(this.bytesOf(indices[k]!, views ? views[k]! : 0), map, 0);
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
      pending.set(b, this.cache.prefetch(Array.from(rows, (r) => this.keyBytes(r))));
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
   * Every entry decoded into one array [size, ...featureShape] (view 0; `allViews`: [size, views,
   * ...featureShape]). For small caches only: refuses above `maxBytes` (default 2 GiB) rather than
   * exhausting memory.
   */
  loadAll(options: { maxBytes?: number; pooled?: boolean; allViews?: boolean } = {}): Float32Array {
    const rowSize = options.pooled ? this.channels : this.featureSize;
    if (options.allViews && this.views > 1) {
      const n = this.size * this.views;
      if (n * rowSize * 4 > (options.maxBytes ?? 2 ** 31)) throw new Error(`loadAll would need ${((n * rowSize * 4) / 2 ** 20).toFixed(0)} MiB; use batches() or raise maxBytes`);
      const rows = Int32Array.from({ length: n }, (_, j) => Math.floor(j / this.views));
      const views = Int32Array.from({ length: n }, (_, j) => j % this.views);
      const out = new Float32Array(n * rowSize);
      return options.pooled ? this.pooled(rows, out, views) : this.readRows(rows, out, views);
    }
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
