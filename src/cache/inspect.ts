/** A summary of one cache for `mixhead cache inspect` and for reports. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { QuantizationStats } from './codec.js';
import type { CacheDtype, Quantization } from './header.js';
import { FeatureCache, parseEntryMeta } from './store.js';

export interface CacheSummary {
  dir: string;
  /** Samples (entries); each holds `views` maps. */
  count: number;
  /** Views per sample (1 unless precompute ran with --views N). */
  views: number;
  /** View 1 is the mirror image (views > 1 only). */
  flip?: boolean;
  featureShape: number[];
  dtype: CacheDtype;
  quantization?: Quantization;
  /** uint8 only: values clipped and worst error since creation. */
  quantizationStats?: QuantizationStats;
  /** Encoded feature bytes per entry, all its views (lmdb adds page rounding and metadata: see diskBytes / count). */
  bytesPerEntry: number;
  backbone: string;
  weightsHash: string;
  cut: string;
  inputSize: number;
  multiLabel: boolean;
  /** Every class of the vocabulary with its entry count (0 included), then entries with no label. */
  classes: { name: string; count: number }[];
  unlabeled: number;
  skipped: number;
  /** Bytes the cache directory takes on disk (allocated blocks, so sparse files count as used). */
  diskBytes: number;
  createdAt: string;
}

export async function inspectCache(dir: string): Promise<CacheSummary> {
  const cache = FeatureCache.open(dir, { readonly: true });
  try {
    const h = cache.header;
    const counts = new Map(h.classes.map((c) => [c, 0]));
    let unlabeled = 0;
    let count = 0;
    // One entry at a time: memory stays flat however large the cache (docs/scale.md).
    for (const { meta } of cache.entryRange()) {
      const m = parseEntryMeta(meta);
      count++;
      if (m.labels.length === 0) unlabeled++;
      for (const l of m.labels) counts.set(l, (counts.get(l) ?? 0) + 1);
    }
    let diskBytes = 0;
    for (const name of readdirSync(dir)) {
      const st = statSync(join(dir, name));
      if (st.isFile()) diskBytes += Math.min(st.size, st.blocks * 512);
    }
    const summary: CacheSummary = {
      dir,
      count,
      views: cache.views,
      featureShape: h.featureShape,
      dtype: h.dtype,
      bytesPerEntry: cache.codec.byteLength(cache.entrySize),
      backbone: h.backbone.id,
      weightsHash: h.backbone.weightsHash,
      cut: h.backbone.cut,
      inputSize: h.preprocess.size,
      multiLabel: h.multiLabel,
      classes: [...counts].map(([name, n]) => ({ name, count: n })),
      unlabeled,
      skipped: cache.skipped().length,
      diskBytes,
      createdAt: h.createdAt,
    };
    if (h.views) summary.flip = h.views.flip;
    if (h.quantization) summary.quantization = h.quantization;
    const qs = cache.quantizationStats();
    if (qs) summary.quantizationStats = qs;
    return summary;
  } finally {
    await cache.close();
  }
}
