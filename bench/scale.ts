/**
 * Scale workload: what one machine does with caches of 10³, 10⁴ and 10⁵ entries (synthetic uint8
 * 7×7×1280 maps from scripts/synth-cache.ts, 10 classes). Each measurement runs in a child process
 * so its peak memory is its own:
 *   - open: CacheReader row table + FeatureSet (labels, targets)
 *   - linear head, pooled vectors kept in memory (default budget): pooling pass, then 2 epochs
 *   - linear head, streamed (budget 0: every batch pooled from the memory-mapped cache): one
 *     epoch over ≤ 10⁴ random rows
 *   - conv head (1×1 conv to 32) streaming full maps from disk: one epoch over ≤ 10⁴ random rows
 *   - inspect and cache export
 * The reference of each row is the 10³ figure scaled linearly to the row's size (same run), so a
 * ratio near 1 means the cost grows linearly with entries. Memory is the peak anonymous RSS
 * (what the process owns; lmdb's file-backed map pages are page cache the kernel reclaims) and
 * VmHWM (everything, map pages included) in the note. Before each child the cache file's pages
 * are dropped from the page cache (dd iflag=nocache), so reads come from disk.
 *
 *   npx tsx bench/scale.ts [--quick]      (or through npm run bench)
 * Caches go to $MIXHEAD_SCALE_DIR (default $TMPDIR/mixhead-bench-scale, ~6.6 GB at 10⁵) and are
 * kept for the next run; remove the folder when done.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { selectBackend } from '../src/tfjs/backend.js';
import { CacheReader, exportCache, inspectCache } from '../src/cache/index.js';
import { cacheFeatureSet, subsetFeatureSet } from '../src/train/features.js';
import { trainHead } from '../src/train/trainer.js';
import { disposeHead } from '../src/train/heads.js';
import { Rng } from '../src/base/random.js';
import { writeSyntheticCache } from '../scripts/synth-cache.js';

import type { BenchContext, BenchRow } from './lib.js';

const SCRIPT = fileURLToPath(import.meta.url);
const CONV_SAMPLES = 10_000;

interface ChildResult {
  task: string;
  entries: number;
  seconds: Record<string, number>;
  epochs?: number[];
  samples?: number;
  peakAnon: number;
  hwm: number;
}

function procStatus(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync('/proc/self/status', 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (m) out[m[1]!] = Number(m[2]) * 1024;
  }
  return out;
}

/** Child process: one measurement on one cache; prints one JSON line. */
async function child(task: string, dir: string): Promise<void> {
  let peakAnon = 0;
  const sample = () => {
    peakAnon = Math.max(peakAnon, procStatus().RssAnon ?? 0);
  };
  const seconds: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => T | Promise<T>): Promise<T> => {
    const t = performance.now();
    const r = await fn();
    seconds[name] = (performance.now() - t) / 1000;
    sample();
    return r;
  };
  await selectBackend({ force: process.env.MIXHEAD_BACKEND ?? 'wasm' });
  sample();
  const result: ChildResult = { task, entries: 0, seconds, peakAnon: 0, hwm: 0 };
  if (task === 'inspect') {
    result.entries = (await timed('inspect', () => inspectCache(dir))).count;
  } else if (task === 'export') {
    const out = mkdtempSync(path.join(path.dirname(dir), 'export-'));
    try {
      result.entries = (await timed('export', () => exportCache(dir, out))).count;
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  } else {
    const reader = await timed('open', () => CacheReader.open(dir));
    result.entries = reader.size;
    const streamed = task === 'linear-streamed';
    let set = await timed('featureSet', () => cacheFeatureSet(reader, streamed ? { pooledBudgetBytes: 0 } : {}));
    if (task === 'linear' || task === 'linear-streamed') {
      // The pooled pass (kept vectors) happens on the first read: time it on its own.
      if (!streamed) await timed('pool', () => set.readPooled([0], new Float32Array(reader.channels)));
      else if (set.size > CONV_SAMPLES) set = subsetFeatureSet(set, Int32Array.from(new Rng(1).permutation(set.size).subarray(0, CONV_SAMPLES)));
      const epochs: number[] = [];
      let batches = 0;
      const r = await trainHead(set, null, {
        head: 'linear',
        epochs: streamed ? 1 : 2,
        cleanSample: streamed ? 256 : undefined,
        batchSize: 256,
        seed: 0,
        onBatch: () => void (++batches % 16 === 0 && sample()),
        onEpoch: (e) => epochs.push(e.seconds),
      });
      disposeHead(r.head);
      result.epochs = epochs;
      result.samples = set.size;
    } else if (task === 'conv') {
      if (set.size > CONV_SAMPLES) {
        // Random rows across the whole file: the access pattern of a full epoch, fewer steps.
        const rows = new Rng(1).permutation(set.size).subarray(0, CONV_SAMPLES);
        set = subsetFeatureSet(set, Int32Array.from(rows));
      }
      const epochs: number[] = [];
      let batches = 0;
      const r = await trainHead(set, null, {
        head: 'conv',
        hidden: 32,
        epochs: 1,
        batchSize: 64,
        seed: 0,
        cleanSample: 256,
        onBatch: () => void (++batches % 8 === 0 && sample()),
        onEpoch: (e) => epochs.push(e.seconds),
      });
      disposeHead(r.head);
      result.epochs = epochs;
      result.samples = set.size;
    }
    await reader.close();
  }
  sample();
  result.peakAnon = peakAnon;
  result.hwm = procStatus().VmHWM ?? 0;
  console.log(JSON.stringify(result));
}

function runChild(task: string, dir: string): ChildResult {
  // Drop this cache's pages from the page cache (a per-file fadvise: other files are untouched).
  spawnSync('dd', [`if=${path.join(dir, 'data.mdb')}`, 'iflag=nocache', 'count=0', 'status=none']);
  const r = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, '--child', task, dir], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`scale bench child ${task} ${dir} failed (${r.status ?? r.signal}): ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`);
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error(`scale bench child ${task} printed no result: ${r.stdout.slice(-500)}`);
  return JSON.parse(line) as ChildResult;
}

const mib = (b: number) => (b / 2 ** 20).toFixed(0);
const log = (s: string) => process.stderr.write(`scale: ${s}\n`);

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const sizes = ctx.quick ? [1_000, 10_000] : [1_000, 10_000, 100_000];
  const root = process.env.MIXHEAD_SCALE_DIR ?? path.join(tmpdir(), 'mixhead-bench-scale');
  const rows: BenchRow[] = [];
  const base: Record<string, number> = {};
  const perSize = (metric: string, n: number, value: number, unit: string, note: string) => {
    // Reference: the 10³ figure scaled to n entries, from this run.
    const key = metric;
    if (n === sizes[0]) base[key] = value / n;
    const reference = base[key] !== undefined ? base[key]! * n : undefined;
    rows.push({ workload: 'scale', metric: `${metric} @ ${n.toExponential(0).replace('+', '')}`, unit, mixhead: value, reference, ratio: reference ? value / reference : undefined, note });
  };
  for (const n of sizes) {
    const dir = path.join(root, `synth-uint8-${n}`);
    const w = await writeSyntheticCache({ dir, entries: n });
    if (w.written) log(`wrote ${w.written} entries to ${dir} in ${w.seconds.toFixed(1)} s`);
    const diskBytes = statBytes(dir);

    const open = runChild('open', dir);
    perSize('open reader + FeatureSet', n, open.seconds.open! + open.seconds.featureSet!, 's', `peak anon ${mib(open.peakAnon)} MiB, cache ${mib(diskBytes)} MiB on disk`);

    const lin = runChild('linear', dir);
    perSize('linear head epoch (pooled kept)', n, lin.epochs![1]!, 's', `first epoch ${lin.epochs![0]!.toFixed(2)} s, pooling pass ${lin.seconds.pool!.toFixed(1)} s; peak anon ${mib(lin.peakAnon)} MiB, VmHWM ${mib(lin.hwm)} MiB`);
    rows.push({ workload: 'scale', metric: `linear head peak anon RSS (pooled kept) @ ${n.toExponential(0).replace('+', '')}`, unit: 'MiB', mixhead: lin.peakAnon / 2 ** 20, note: `pooled table ${mib(n * 1280 * 4)} MiB of it` });

    const str = runChild('linear-streamed', dir);
    const strRate = str.samples! / str.epochs![0]!;
    rows.push({
      workload: 'scale',
      metric: `linear head streamed (budget 0: pooled per batch from disk) @ ${n.toExponential(0).replace('+', '')}`,
      unit: 'samples/s',
      mixhead: strRate,
      note: `${str.samples} ${str.samples! < n ? 'random ' : ''}rows in ${str.epochs![0]!.toFixed(1)} s (a full epoch ≈ ${(n / strRate).toFixed(0)} s); peak anon ${mib(str.peakAnon)} MiB, VmHWM ${mib(str.hwm)} MiB`,
    });
    rows.push({ workload: 'scale', metric: `linear head peak anon RSS (streamed) @ ${n.toExponential(0).replace('+', '')}`, unit: 'MiB', mixhead: str.peakAnon / 2 ** 20 });

    const conv = runChild('conv', dir);
    const convRate = conv.samples! / conv.epochs![0]!;
    rows.push({
      workload: 'scale',
      metric: `conv head (1×1→32) streaming maps from disk @ ${n.toExponential(0).replace('+', '')}`,
      unit: 'samples/s',
      mixhead: convRate,
      note: `${conv.samples} ${conv.samples! < n ? 'random ' : ''}rows in ${conv.epochs![0]!.toFixed(1)} s (a full epoch ≈ ${(n / convRate).toFixed(0)} s); peak anon ${mib(conv.peakAnon)} MiB, VmHWM ${mib(conv.hwm)} MiB`,
    });

    const ins = runChild('inspect', dir);
    perSize('inspect', n, ins.seconds.inspect!, 's', `peak anon ${mib(ins.peakAnon)} MiB`);
    const exp = runChild('export', dir);
    perSize('cache export', n, exp.seconds.export!, 's', `${mib(diskBytes)} MiB cache → ${mib(n * 62720)} MiB features.npy; peak anon ${mib(exp.peakAnon)} MiB`);
    log(`done ${n}`);
  }
  return rows;
}

function statBytes(dir: string): number {
  const r = spawnSync('du', ['-sb', dir], { encoding: 'utf8' });
  return Number(r.stdout.split('\t')[0]);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    await child(args[1]!, args[2]!);
  } else {
    const rows = await run({ quick: args.includes('--quick'), outDir: 'bench', python: null, workDir: 'bench/out', backend: 'wasm', details: {}, budgetMiB: 0, cgroup: false });
    for (const r of rows) {
      const ratio = r.ratio !== undefined ? ` (×${r.ratio.toFixed(2)} of linear from 10³)` : '';
      console.log(`${r.metric}: ${r.mixhead.toFixed(r.unit === 's' ? 2 : 0)} ${r.unit}${ratio}${r.note ? `; ${r.note}` : ''}`);
    }
    console.log(JSON.stringify(rows));
  }
}
