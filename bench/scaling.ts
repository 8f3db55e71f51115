/** scaling: head-training time per epoch for 1k/4k/16k entries read from a float16 cache. */
import path from 'node:path';
import { rmSync } from 'node:fs';
import { CacheReader } from '../src/cache/index.js';
import { cacheFeatureSet, subsetFeatureSet } from '../src/train/features.js';
import { fmt, log, now, row, steady, syntheticCache, timedTrain, type BenchContext, type BenchRow } from './lib.js';

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const sizes = ctx.quick ? [1024, 4096] : [1024, 4096, 16384];
  const need = sizes[sizes.length - 1]!;
  const dir = path.join(ctx.workDir, 'caches', `scaling-f16-${need}`);
  log(`scaling: writing a float16 cache of ${need} entries`);
  await syntheticCache(dir, 'float16', need, 31, 256);
  const reader = CacheReader.open(dir);
  try {
    const t = now();
    const all = cacheFeatureSet(reader);
    const details: Record<string, unknown> = { pooledSeconds: now() - t, cacheEntries: reader.size };
    for (const head of ['linear', 'conv'] as const) {
      for (const s of sizes) {
        if (head === 'conv' && s > 4096) continue; // the memory workload gives the large conv point
        const sub = subsetFeatureSet(all, Int32Array.from({ length: s }, (_, i) => i));
        const epochs = head === 'linear' ? 3 : 1;
        log(`scaling: ${head} head, ${s} entries, ${epochs} epoch(s)`);
        const r = await timedTrain(sub, head, epochs);
        const stepS = head === 'linear' ? steady(r.stepSeconds) : r.stepSeconds[0]!;
        const evalS = head === 'linear' ? steady(r.evalSeconds) : r.evalSeconds[0]!;
        details[`${head}-${s}`] = r;
        rows.push(
          row({
            workload: 'scaling',
            metric: `${head} head, ${s} entries: seconds per epoch`,
            mixhead: stepS + evalS,
            unit: 's',
            note: `${fmt(s / stepS)} samples/s in steps; ${((1e3 * (stepS + evalS)) / s).toFixed(3)} ms per sample per epoch (incl. eval)`,
          }),
        );
      }
    }
    ctx.details.scaling = details;
  } finally {
    await reader.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
