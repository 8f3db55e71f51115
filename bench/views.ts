/**
 * views: what `precompute --views N` costs. The same Fashion-MNIST PNGs precomputed at --views 1
 * (the reference, same run) and at --views 2 and 4: the pipeline's time after start-up and the
 * cache's size on disk, as ratios. Every view goes through the backbone and is stored, so both are
 * expected near N×; the decode is shared by an image's views, which is all that could make time
 * grow slower than N.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeFashionSample } from '../src/data/fashion.js';
import { precompute } from '../src/jobs/precompute.js';
import { fmt, log, row, type BenchContext, type BenchRow } from './lib.js';

/** Allocated bytes of the files in a cache folder. */
function diskBytes(dir: string): number {
  return readdirSync(dir).reduce((a, f) => {
    const st = statSync(path.join(dir, f));
    return a + Math.min(st.size, st.blocks * 512);
  }, 0);
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const perClass = ctx.quick ? 10 : 30;
  const data = path.join(ctx.workDir, 'data', `fm-views-${perClass}`);
  if (!existsSync(data)) await writeFashionSample({ out: data, perClass, split: 'train' });
  const measure = async (views: number) => {
    const cache = path.join(ctx.workDir, 'caches', `views-${views}`);
    rmSync(cache, { recursive: true, force: true });
    log(`views: precompute ${perClass * 10} PNGs at --views ${views}`);
    const r = await precompute({ data, cache, views, backend: ctx.backend, progress: false });
    return { runSeconds: r.runSeconds, seconds: r.seconds, bytes: diskBytes(cache), backboneImages: r.backboneImages };
  };
  const base = await measure(1);
  const rows: BenchRow[] = [];
  const details: Record<string, unknown> = { images: perClass * 10, 'views 1': base };
  for (const views of [2, 4]) {
    const m = await measure(views);
    details[`views ${views}`] = m;
    rows.push(
      row({ workload: 'views', metric: `precompute --views ${views} vs 1, time after start-up`, mixhead: m.runSeconds, reference: base.runSeconds, unit: 's', note: `${perClass * 10} PNGs; ${m.backboneImages} vs ${base.backboneImages} backbone images; all-in ${fmt(m.seconds, 1)} vs ${fmt(base.seconds, 1)} s` }),
      row({ workload: 'views', metric: `cache size, --views ${views} vs 1`, mixhead: m.bytes / 2 ** 20, reference: base.bytes / 2 ** 20, unit: 'MiB', note: 'float16, on disk (allocated blocks)' }),
    );
  }
  ctx.details.views = details;
  return rows;
}
