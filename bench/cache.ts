/**
 * cache: bytes per entry and random-order read throughput per dtype (float16 and uint8 as ratios to
 * float32 in the same run, with the SIMD decoder and with the scalar tables), and the Fashion-MNIST
 * accuracy change of float16 / uint8 caches against float32.
 */
import path from 'node:path';
import { rmSync } from 'node:fs';
import { Rng } from '../src/base/random.js';
import { CacheReader, FeatureCache, decoderKind, makeHeader, setScalarDecoding, type CacheDtype } from '../src/cache/index.js';
import { cacheFeatureSet } from '../src/train/features.js';
import { evaluateSet, trainHead } from '../src/train/trainer.js';
import { HWC, diskBytes, fashionFeatureCaches, fmt, log, median, now, row, syntheticCache, type BenchContext, type BenchRow } from './lib.js';

const DTYPES: CacheDtype[] = ['float32', 'float16', 'uint8'];

/** Writes `src`'s maps again at `dtype` through the codec precompute uses (FeatureCache.putMany). */
async function reencode(src: string, dst: string, dtype: CacheDtype): Promise<void> {
  rmSync(dst, { recursive: true, force: true });
  const reader = CacheReader.open(src);
  const h = reader.header;
  const cache = FeatureCache.create(dst, makeHeader({ backbone: h.backbone, preprocess: h.preprocess, featureShape: h.featureShape, dtype, classes: h.classes, multiLabel: h.multiLabel }), { onNotice: () => {} });
  try {
    const buf = new Float32Array(reader.featureSize);
    for (let i = 0; i < reader.size; i += 64) {
      const entries = [];
      for (let j = i; j < Math.min(reader.size, i + 64); j++) {
        reader.readRows([j], buf);
        entries.push({ key: reader.keys[j]!, id: reader.ids[j]!, source: reader.sources[j]!, labels: reader.labelsOf(j), features: buf.slice() });
      }
      cache.putMany(entries);
    }
  } finally {
    await cache.close();
    await reader.close();
  }
}

/** Random-order readRows in batches of 64: entries/s per pass. */
function readPass(reader: CacheReader, order: Int32Array, buf: Float32Array): number {
  const t = now();
  for (let i = 0; i < order.length; i += 64) reader.readRows(order.subarray(i, Math.min(order.length, i + 64)), buf);
  return order.length / (now() - t);
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const n = ctx.quick ? 512 : 2048;
  const details: Record<string, unknown> = { entries: n, decoder: decoderKind() };
  const writes: Record<string, { seconds: number; diskPerEntry: number; bytesPerEntry: number }> = {};
  const readers: Record<string, CacheReader> = {};
  for (const dtype of DTYPES) {
    const dir = path.join(ctx.workDir, 'caches', `synthetic-${dtype}`);
    log(`cache: ${n} synthetic entries, ${dtype}`);
    const w = await syntheticCache(dir, dtype, n, 11);
    readers[dtype] = CacheReader.open(dir);
    writes[dtype] = { seconds: w.seconds, diskPerEntry: diskBytes(dir).allocated / n, bytesPerEntry: readers[dtype]!.featureSize * (dtype === 'float32' ? 4 : dtype === 'float16' ? 2 : 1) };
  }
  // Reads: every dtype once per round, interleaved so load on a shared machine hits all alike; the
  // first round pages the caches in (as when a cache fits in RAM), the median of the rest counts.
  const order = new Rng(3).permutation(n);
  const buf = new Float32Array(64 * HWC);
  const rounds = ctx.quick ? 4 : 6;
  const rates: Record<string, number[]> = {};
  const variants = [...DTYPES.map((d) => ({ name: d, dtype: d, scalar: false })), { name: 'float16-scalar', dtype: 'float16', scalar: true }, { name: 'uint8-scalar', dtype: 'uint8', scalar: true }];
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      setScalarDecoding(v.scalar);
      const rate = readPass(readers[v.dtype]!, order, buf);
      if (r > 0) (rates[v.name] ??= []).push(rate);
    }
  }
  setScalarDecoding(false);
  for (const r of Object.values(readers)) await r.close();
  for (const dtype of DTYPES) rmSync(path.join(ctx.workDir, 'caches', `synthetic-${dtype}`), { recursive: true, force: true });
  const rate = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)]));
  details.readEntriesPerSecond = rate;
  details.readPasses = rates;
  details.writes = writes;
  for (const dtype of DTYPES) {
    const w = writes[dtype]!;
    rows.push(
      row({
        workload: 'cache',
        metric: `${dtype}: bytes/entry (on disk incl. lmdb)`,
        mixhead: w.bytesPerEntry,
        unit: 'B',
        ratio: w.bytesPerEntry / writes.float32!.bytesPerEntry,
        target: dtype === 'uint8' ? '≤ 0.25× float32' : undefined,
        pass: dtype === 'uint8' ? w.bytesPerEntry / writes.float32!.bytesPerEntry <= 0.25 : undefined,
        note: `${fmt(w.diskPerEntry, 0)} B on disk; ratio vs float32`,
      }),
    );
  }
  for (const name of ['float32', 'float16', 'uint8', 'float16-scalar', 'uint8-scalar']) {
    const dtype = name.replace('-scalar', '') as CacheDtype;
    const scalar = name.endsWith('-scalar');
    const ratio = rate[name]! / rate.float32!;
    rows.push(
      row({
        workload: 'cache',
        metric: scalar ? `${dtype}, scalar table decoder (the fallback): random-order readRows, batches of 64` : `${dtype}: random-order readRows, batches of 64`,
        mixhead: rate[name]!,
        unit: 'entries/s',
        ratio: dtype === 'float32' ? undefined : ratio,
        target: dtype !== 'float32' && !scalar ? '≥ 0.5× float32' : undefined,
        pass: dtype !== 'float32' && !scalar ? ratio >= 0.5 : undefined,
        note: `${((rate[name]! * HWC * 4) / 1e9).toFixed(2)} GB/s of decoded float32${dtype === 'float32' ? '' : '; ratio vs float32 in this run'}${scalar ? '' : `; writes ${fmt(n / writes[dtype]!.seconds)} entries/s (putMany, synced)`}; median of ${rounds - 1} warm passes`,
      }),
    );
  }

  // Accuracy: the Fashion sets at float32, written again as float16 and uint8 through the codec.
  const fm = await fashionFeatureCaches(ctx);
  details.fashionPrecompute = fm.runs;
  const accs: Record<string, number> = {};
  const pf = (p: string, d: CacheDtype) => p.replace(/-f32$/, `-${d}`);
  for (const dtype of DTYPES) {
    const tr = dtype === 'float32' ? fm.trainCache : pf(fm.trainCache, dtype);
    const te = dtype === 'float32' ? fm.testCache : pf(fm.testCache, dtype);
    if (dtype !== 'float32') {
      await reencode(fm.trainCache, tr, dtype);
      await reencode(fm.testCache, te, dtype);
    }
    const rTrain = CacheReader.open(tr);
    const rTest = CacheReader.open(te);
    const res = await trainHead(cacheFeatureSet(rTrain), null, { head: 'linear', mixup: { alpha: 0.4 }, epochs: 30, batchSize: 64, seed: 0 });
    const m = evaluateSet(res.head, cacheFeatureSet(rTest));
    accs[dtype] = (m as { accuracy: number }).accuracy;
    res.head.train.dispose();
    res.head.export.dispose();
    await rTrain.close();
    await rTest.close();
  }
  details.accuracy = accs;
  const nTrain = CacheReader.open(fm.trainCache);
  const sizes = nTrain.size;
  await nTrain.close();
  rows.push(row({ workload: 'cache', metric: 'Fashion-MNIST test accuracy, float32', mixhead: 100 * accs.float32!, unit: '%', note: `bundled-mobilenet-v2 features, ${sizes} train / ${sizes} test images, linear head, α 0.4, 30 epochs, seed 0` }));
  for (const dtype of ['float16', 'uint8'] as const) {
    const d = 100 * (accs[dtype]! - accs.float32!);
    rows.push(
      row({
        workload: 'cache',
        metric: `accuracy change, ${dtype} vs float32`,
        mixhead: d,
        unit: 'pp',
        target: dtype === 'uint8' ? '|Δ| ≤ 0.3 pp' : undefined,
        pass: dtype === 'uint8' ? Math.abs(d) <= 0.3 : undefined,
        note: `${(100 * accs[dtype]!).toFixed(2)}%; ${dtype} cache written from the float32 maps with the same codec precompute uses`,
      }),
    );
  }
  ctx.details.cache = details;
  return rows;
}
