/**
 * Shared pieces of `npm run bench` (bench/index.ts runs the workloads; bench/README.md explains them).
 *
 * The contract: a workload is one file `bench/<name>.ts` exporting
 *   `export async function run(ctx: BenchContext): Promise<BenchRow[]>`
 * The runner finds such files itself, so a new workload needs no change anywhere else.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/base/random.js';
import { FeatureCache, makeHeader, type CacheDtype, type CacheHeader } from '../src/cache/index.js';
import { writeFashionSample } from '../src/data/fashion.js';
import { precompute } from '../src/jobs/precompute.js';
import { trainHead, type EpochRecord } from '../src/train/trainer.js';
import type { FeatureSet } from '../src/train/features.js';

// ---------------------------------------------------------------- the contract

/** One line of the results table. `ratio` is mixhead / reference unless the note says otherwise. */
export interface BenchRow {
  workload: string;
  metric: string;
  unit: string;
  /** NaN when the measurement failed (the note says why). */
  mixhead: number;
  reference?: number;
  ratio?: number;
  note?: string;
  /** A target from an issue, e.g. `≥ 2×`, and whether this run met it. */
  target?: string;
  pass?: boolean;
  /** Useful GFLOP/s (formulas in bench/README.md). */
  gflopsMixhead?: number;
  gflopsReference?: number;
}

export interface BenchContext {
  /** Smaller sets and fewer epochs: proves a workload runs, numbers are rough. */
  quick: boolean;
  /** Where results.json / results.md go; a workload may write its own extra files here. */
  outDir: string;
  /** A python that imports torch and torchvision (for bench/reference.py), or null. */
  python: string | null;
  /** Scratch space (data sets, caches) that outlives one workload, so workloads can share it. */
  workDir: string;
  /** The TF.js backend the runner selected (workers and children use the same). */
  backend: string;
  /** Raw measurements for results.json, by workload: `ctx.details.cache = {...}`. */
  details: Record<string, unknown>;
  /** Memory workload: budget in MiB, and whether to enforce it with a cgroup (root only). */
  budgetMiB: number;
  cgroup: boolean;
}

export type Workload = (ctx: BenchContext) => Promise<BenchRow[]>;

// ---------------------------------------------------------------- paths, constants

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(BENCH_DIR, '..');
/** float32 GFLOP/s of a 2048² sgemm on this machine's 2 cores (torch + OpenBLAS pthread): the practical ceiling. */
export const CEILING_GFLOPS = 128.6;
/** The bundled MobileNetV2's activation map: 7×7×1280. */
export const H = 7;
export const W = 7;
export const C = 1280;
export const HWC = H * W * C;
/** Classes of the synthetic data sets. */
export const K = 10;
export const CONV_HIDDEN = 256;

// ---------------------------------------------------------------- small helpers

export const now = (): number => performance.now() / 1000;
export const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
/** Mean over epochs after the first (the first pays for kernel set-up and head building). */
export const steady = (xs: number[]): number => mean(xs.length > 1 ? xs.slice(1) : xs);
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};
export const fmt = (x: number | undefined, d = 1): string => (x == null || !Number.isFinite(x) ? '–' : x >= 1000 ? Math.round(x).toLocaleString('en-US') : x.toFixed(d));
export const gflops = (flops: number, seconds: number): number => flops / seconds / 1e9;
export const log = (line: string): void => console.error(`[bench] ${line}`);

/** A row with ratio = mixhead / reference filled in when both are there. */
export function row(r: BenchRow): BenchRow {
  if (r.ratio == null && Number.isFinite(r.mixhead) && r.reference != null) r.ratio = r.mixhead / r.reference;
  const ratio = r.ratio != null ? `  ratio ${r.ratio.toFixed(2)}×` : '';
  log(`${r.workload} · ${r.metric}: mixhead ${fmt(r.mixhead, 2)}${r.reference != null ? `, reference ${fmt(r.reference, 2)}` : ''} ${r.unit}${ratio}${r.target ? ` (target ${r.target}: ${r.pass ? 'met' : 'NOT met'})` : ''}`);
  return r;
}

/** /proc/self/status sizes in bytes (VmRSS, VmHWM, RssAnon, RssFile, …); empty off Linux. */
export function procStatus(): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const line of readFileSync('/proc/self/status', 'utf8').split('\n')) {
      const m = /^(\w+):\s+(\d+) kB/.exec(line);
      if (m) out[m[1]!] = Number(m[2]) * 1024;
    }
  } catch {
    /* not Linux */
  }
  return out;
}

/** Bytes a cache directory's files occupy on disk (allocated blocks: lmdb files are sparse). */
export function diskBytes(dir: string): { allocated: number; apparent: number } {
  let allocated = 0;
  let apparent = 0;
  for (const name of ['data.mdb', 'lock.mdb']) {
    const p = path.join(dir, name);
    if (existsSync(p)) {
      const s = statSync(p);
      allocated += s.blocks * 512;
      apparent += s.size;
    }
  }
  return { allocated, apparent };
}

export function runProcess(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => resolve({ code: -1, stdout, stderr: stderr + String(err) }));
    child.on('close', (code, signal) => resolve({ code: code ?? -1, stdout, stderr: stderr + (signal ? `\n(killed by ${signal})` : '') }));
  });
}

/** The JSON object a child prints on its last stdout line. */
export function lastJson<T>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

/** Node arguments that run a bench TypeScript file (a child workload) through tsx. */
export function tsChildArgs(file: string, args: string[], nodeFlags: string[] = []): string[] {
  return [...nodeFlags, '--import', 'tsx', path.join(BENCH_DIR, file), ...args];
}

// ---------------------------------------------------------------- the PyTorch reference

/** The python the reference should use: BENCH_PYTHON, else Debian's (pyenv's python3 lacks its packages). */
export function pythonCandidate(): string {
  return process.env.BENCH_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
}

/** Runs `bench/reference.py <args>` and returns its JSON answer; undefined (logged) when it fails or there is no python. */
export async function reference<T>(ctx: Pick<BenchContext, 'python'>, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<T | undefined> {
  if (!ctx.python) return undefined;
  const r = await runProcess(ctx.python, [path.join(BENCH_DIR, 'reference.py'), ...args], options);
  if (r.code !== 0) {
    log(`reference ${args[0]} failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    return undefined;
  }
  return lastJson<T>(r.stdout);
}

export interface TorchInfo {
  torch: string;
  torchvision: string;
  threads: number;
  mkldnn: boolean;
  blasInfo: string;
  blasLibs: string[];
  sgemm2048GFlops: number;
  mobilenetV2FeaturesMacs224: number;
}

// ---------------------------------------------------------------- FLOP counts

/**
 * Multiply-adds of MobileNetV2 (α = 1) up to its last 1×1 conv (7×7×1280 at 224 px), summed over
 * convolutions: out_h·out_w·out_c·(in_c/groups)·k². BN and ReLU6 are not counted.
 */
export function mobilenetV2Macs(size = 224): number {
  let s = Math.ceil(size / 2);
  let macs = s * s * 32 * 3 * 9; // stem 3×3 stride 2
  let cin = 32;
  const settings: [number, number, number, number][] = [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
  ];
  for (const [t, c, n, stride] of settings) {
    for (let i = 0; i < n; i++) {
      const st = i === 0 ? stride : 1;
      const hidden = cin * t;
      if (t !== 1) macs += s * s * cin * hidden; // expand 1×1
      const so = Math.ceil(s / st);
      macs += so * so * hidden * 9; // depthwise 3×3
      macs += so * so * hidden * c; // project 1×1
      s = so;
      cin = c;
    }
  }
  macs += s * s * cin * 1280; // last 1×1 conv
  return macs;
}

/** FLOPs per sample of one training step and of one clean evaluation, as the PyTorch reference computes them. */
export function headFlops(head: 'linear' | 'conv'): { train: number; eval: number } {
  if (head === 'linear') {
    // mix 3·HWC, pool HWC, dense forward 2CK, dense weight gradient 2CK
    return { train: 4 * HWC + 4 * C * K, eval: HWC + 2 * C * K };
  }
  const D = CONV_HIDDEN;
  // mix 3·HWC, 1×1 conv forward 2·HW·C·D and its weight gradient 2·HW·C·D, pool + dense (small)
  return { train: 3 * HWC + 4 * H * W * C * D + 4 * H * W * D + 4 * D * K, eval: 2 * H * W * C * D + H * W * D + 2 * D * K };
}

// ---------------------------------------------------------------- synthetic data

/** n maps of ReLU(N(0, 1)) values (post-activation-like) from the project's Rng. */
export function reluMaps(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n * HWC);
  for (let i = 0; i < out.length; i++) out[i] = Math.max(0, rng.normal());
  return out;
}

export function seededLabels(n: number, seed: number): string[][] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => [`c${rng.int(K)}`]);
}

export const syntheticClasses = (): string[] => Array.from({ length: K }, (_, i) => `c${i}`);

/**
 * A cache of `n` synthetic 7×7×1280 entries (putMany, so the codec's real encode path runs).
 * With `distinct` < n, that many base maps are encoded once and written under n distinct keys
 * (all bytes still on disk): large caches without generating every map.
 */
export async function syntheticCache(dir: string, dtype: CacheDtype, n: number, seed: number, distinct = n): Promise<{ seconds: number; header: CacheHeader }> {
  rmSync(dir, { recursive: true, force: true });
  const header = makeHeader({
    backbone: { id: 'synthetic', weightsHash: 'none', cut: 'none', kind: 'layers' },
    preprocess: { size: 224, range: [0, 1], fit: 'cover' },
    featureShape: [H, W, C],
    dtype,
    classes: syntheticClasses(),
    multiLabel: false,
  });
  const cache = FeatureCache.create(dir, header, { onNotice: () => {} });
  const labels = new Rng(seed).fork('labels');
  const key = (i: number) => `k${String(i).padStart(8, '0')}`;
  const t = now();
  try {
    if (distinct >= n) {
      for (let i = 0; i < n; i += 64) {
        const m = Math.min(64, n - i);
        const maps = reluMaps(m, seed * 1000 + i);
        cache.putMany(
          Array.from({ length: m }, (_, j) => ({ key: key(i + j), id: `e${i + j}`, source: 'synthetic', labels: [`c${labels.int(K)}`], features: maps.subarray(j * HWC, (j + 1) * HWC) })),
        );
      }
    } else {
      const bases = reluMaps(Math.min(distinct, 256), seed);
      const nb = bases.length / HWC;
      const enc = Array.from({ length: nb }, (_, b) => cache.codec.encode(bases.subarray(b * HWC, (b + 1) * HWC)));
      for (let i = 0; i < n; i += 256) {
        const m = Math.min(256, n - i);
        cache.putEncodedMany(
          Array.from({ length: m }, (_, j) => ({ key: key(i + j), meta: { id: `e${i + j}`, source: 'synthetic', labels: [`c${labels.int(K)}`] }, bytes: enc[(i + j) % nb]! })),
        );
      }
    }
  } finally {
    await cache.close();
  }
  return { seconds: now() - t, header };
}

// ---------------------------------------------------------------- Fashion-MNIST sets

/** Images per class of the accuracy sets (train and test, each ×10 classes). */
export const accuracyPerClass = (quick: boolean): number => (quick ? 16 : 50);

/**
 * The Fashion-MNIST accuracy sets precomputed at float32 (bundled MobileNetV2, 2 workers), kept in
 * the work folder so workloads that need real features share one extraction per run. Returns the
 * two cache folders and how long each precompute took.
 */
export async function fashionFeatureCaches(ctx: BenchContext): Promise<{ trainCache: string; testCache: string; runs: Record<string, unknown> }> {
  const perClass = accuracyPerClass(ctx.quick);
  const data = path.join(ctx.workDir, 'data');
  const caches = path.join(ctx.workDir, 'caches');
  const out = { trainCache: path.join(caches, `fm-train-${perClass}-f32`), testCache: path.join(caches, `fm-test-${perClass}-f32`), runs: {} as Record<string, unknown> };
  for (const split of ['train', 'test'] as const) {
    const dir = path.join(data, `fm-${split}-${perClass}`);
    const cache = split === 'train' ? out.trainCache : out.testCache;
    if (!existsSync(dir)) await writeFashionSample({ out: dir, perClass, split });
    log(`precompute: ${perClass * 10} ${split} PNGs at float32 (accuracy set), 2 workers`);
    const t = now();
    // A rerun resumes: entries already in the cache are reused, so this is cheap the second time.
    const r = await precompute({ data: dir, cache, workers: 2, dtype: 'float32', backend: ctx.backend, progress: false });
    out.runs[split] = { computed: r.computed, reused: r.reused, seconds: now() - t, imagesPerSecond: r.imagesPerSecond };
  }
  return out;
}

// ---------------------------------------------------------------- head training, timed

export interface HeadRun {
  records: EpochRecord[];
  /** Per epoch: seconds from epoch start to the last optimizer step. */
  stepSeconds: number[];
  /** Per epoch: seconds of the clean evaluation after the steps (and the epoch callback). */
  evalSeconds: number[];
  wallSeconds: number;
}

/** trainHead with the bench's settings (dropout 0.2, α 0.4, batch 64, seed 0), step and eval time per epoch. */
export async function timedTrain(set: FeatureSet, head: 'linear' | 'conv', epochs: number, extra: { onBatch?: () => void } = {}): Promise<HeadRun> {
  const stepSeconds: number[] = [];
  const evalSeconds: number[] = [];
  const records: EpochRecord[] = [];
  const t0 = now();
  let epochStart = t0;
  let lastStep = t0;
  const res = await trainHead(set, null, {
    head,
    hidden: head === 'conv' ? CONV_HIDDEN : undefined,
    dropout: 0.2,
    mixup: { alpha: 0.4 },
    batchSize: 64,
    epochs,
    seed: 0,
    onBatch: (done, total) => {
      extra.onBatch?.();
      if (done === total) {
        lastStep = now();
        stepSeconds.push(lastStep - epochStart);
      }
    },
    onEpoch: (r) => {
      const t = now();
      evalSeconds.push(t - lastStep);
      records.push(r);
      epochStart = t;
    },
  });
  const wallSeconds = now() - t0;
  res.head.train.dispose();
  res.head.export.dispose();
  return { records, stepSeconds, evalSeconds, wallSeconds };
}
