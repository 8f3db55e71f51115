/**
 * `npm run bench`: mixhead against a PyTorch (CPU) reference, measured in the same run.
 *
 *   npx tsx scripts/bench.ts [--quick] [--only precompute,train,cache,memory,scaling,profile]
 *                            [--no-torch] [--cgroup] [--budget-mib N] [--work DIR] [--keep]
 *
 * Workloads (bench/README.md has the details and the FLOP formulas):
 *   precompute  Fashion-MNIST PNGs → 7×7×1280 MobileNetV2 maps, decode included (2 vs 1 worker; torch)
 *   train       head training on 64×7×7×1280 batches with per-sample mixup (linear and conv heads; torch)
 *   cache       bytes per entry, random-order read throughput, accuracy change per dtype
 *   memory      conv head, 1 epoch, on a float16 cache several times the memory budget (child process)
 *   scaling     head-training time for 1k/4k/16k entries; precompute img/s for 1 and 2 workers
 *   profile     CPU profile (inspector, as node --cpu-prof) of small training runs: top self-time functions
 * Writes bench/results.json and bench/results.md. The reference is bench/reference.py, run with
 * Debian's python3-torch (`/usr/bin/python3`, or BENCH_PYTHON); without torch the rest still runs.
 * Every random number comes from a fixed seed.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, promises as fs, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { selectBackend } from '../src/backend.js';
import { Rng } from '../src/random.js';
import { ExtractorPool } from '../src/backbone/pool.js';
import { CacheReader, FeatureCache, makeHeader, type CacheDtype, type CacheHeader } from '../src/cache/index.js';
import { decodeImage } from '../src/data/image.js';
import { writeFashionSample } from '../src/data/fashion.js';
import { precompute } from '../src/precompute.js';
import { cacheFeatureSet, memoryFeatureSet, subsetFeatureSet, type FeatureSet } from '../src/train/features.js';
import { evaluateSet, trainHead, type EpochRecord } from '../src/train/trainer.js';

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SCRIPT), '..');
const BENCH_DIR = path.join(ROOT, 'bench');
/** float32 GFLOP/s of a 2048² sgemm on this machine's 2 cores (torch + OpenBLAS pthread): the practical ceiling. */
const CEILING_GFLOPS = 128.6;
const H = 7;
const W = 7;
const C = 1280;
const HWC = H * W * C;
const K = 10;
const CONV_HIDDEN = 256;

// ---------------------------------------------------------------- small helpers

/** Seeded uniform [0, 1) draws from the project's generator. */
function seededUniform(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.uniform();
}

/** n maps of ReLU(N(0,1)) values (post-activation-like), seeded. */
function reluMaps(n: number, seed: number): Float32Array {
  const rand = seededUniform(seed);
  const out = new Float32Array(n * HWC);
  for (let i = 0; i < out.length; i += 2) {
    const u = 1 - rand();
    const r = Math.sqrt(-2 * Math.log(u));
    const th = 2 * Math.PI * rand();
    out[i] = Math.max(0, r * Math.cos(th));
    if (i + 1 < out.length) out[i + 1] = Math.max(0, r * Math.sin(th));
  }
  return out;
}

function seededLabels(n: number, seed: number): string[][] {
  const rand = seededUniform(seed);
  return Array.from({ length: n }, () => [`c${Math.floor(rand() * K)}`]);
}

function permutation(n: number, seed: number): Int32Array {
  const rand = seededUniform(seed);
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

const now = () => performance.now() / 1000;
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const fmt = (x: number | undefined, d = 1) => (x == null || !Number.isFinite(x) ? '–' : x >= 1000 ? Math.round(x).toLocaleString('en-US') : x.toFixed(d));
const log = (line: string) => console.error(`[bench] ${line}`);

function procStatus(): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const line of readFileSync('/proc/self/status', 'utf8').split('\n')) {
      const m = /^(\w+):\s+(\d+) kB/.exec(line);
      if (m) out[m[1]] = Number(m[2]) * 1024;
    }
  } catch {
    /* not Linux */
  }
  return out;
}

/** Bytes a directory's files occupy on disk (allocated blocks: lmdb files are sparse). */
function diskBytes(dir: string): { allocated: number; apparent: number } {
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
function headFlops(head: 'linear' | 'conv'): { train: number; eval: number } {
  if (head === 'linear') {
    // mix 3·HWC, pool HWC, dense forward 2CK, dense weight gradient 2CK
    return { train: 4 * HWC + 4 * C * K, eval: HWC + 2 * C * K };
  }
  const D = CONV_HIDDEN;
  // mix 3·HWC, 1×1 conv forward 2·HW·C·D and its weight gradient 2·HW·C·D, pool + dense (small)
  return { train: 3 * HWC + 4 * H * W * C * D + 4 * H * W * D + 4 * D * K, eval: 2 * H * W * C * D + H * W * D + 2 * D * K };
}

const gflops = (flops: number, seconds: number) => flops / seconds / 1e9;

// ---------------------------------------------------------------- the reference (python)

const PYTHON = process.env.BENCH_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

function runProcess(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => resolve({ code: -1, stdout, stderr: stderr + String(err) }));
    child.on("close", (code, signal) => resolve({ code: code ?? -1, stdout, stderr: stderr + (signal ? `\n(killed by ${signal})` : "") }));
  });
}

function lastJson<T>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}

async function reference<T>(args: string[]): Promise<T | undefined> {
  const r = await runProcess(PYTHON, [path.join(BENCH_DIR, 'reference.py'), ...args]);
  if (r.code !== 0) {
    log(`reference ${args[0]} failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    return undefined;
  }
  return lastJson<T>(r.stdout);
}

interface TorchInfo {
  torch: string;
  torchvision: string;
  threads: number;
  mkldnn: boolean;
  blasInfo: string;
  blasLibs: string[];
  sgemm2048GFlops: number;
  mobilenetV2FeaturesMacs224: number;
}

// ---------------------------------------------------------------- results

interface Row {
  workload: string;
  metric: string;
  mixhead?: number;
  reference?: number;
  unit: string;
  /** mixhead / reference (or as stated in `note`). */
  ratio?: number;
  target?: string;
  pass?: boolean;
  gflopsMixhead?: number;
  gflopsReference?: number;
  note?: string;
}

const rows: Row[] = [];
const results: Record<string, unknown> = {};

function row(r: Row): void {
  if (r.ratio == null && r.mixhead != null && r.reference != null) r.ratio = r.mixhead / r.reference;
  rows.push(r);
  const ratio = r.ratio != null ? `  ratio ${r.ratio.toFixed(2)}×` : '';
  log(`${r.workload} · ${r.metric}: mixhead ${fmt(r.mixhead, 2)}${r.reference != null ? `, reference ${fmt(r.reference, 2)}` : ''} ${r.unit}${ratio}${r.target ? ` (target ${r.target}: ${r.pass ? 'met' : 'NOT met'})` : ''}`);
}

const pct = (g?: number) => (g == null ? '' : ` (${((100 * g) / CEILING_GFLOPS).toFixed(1)}%)`);

function markdown(machine: Record<string, unknown>): string {
  const lines: string[] = [];
  lines.push(`# mixhead benchmarks${results.quick ? ' (quick)' : ''}`);
  lines.push('');
  lines.push(`Machine: ${machine.cpu}, ${machine.nproc} cores, ${machine.memGiB} GiB; Node ${machine.node}, TF.js backend ${machine.backend}. ${machine.date}`);
  const t = results.torch as TorchInfo | undefined;
  lines.push(
    t
      ? `Reference: PyTorch ${t.torch} / torchvision ${t.torchvision}, ${t.threads} threads, BLAS ${t.blasLibs.map((l) => path.basename(path.dirname(l)) + '/' + path.basename(l)).join(', ') || t.blasInfo}, oneDNN (mkldnn) ${t.mkldnn ? 'available' : 'not available'}; 2048² sgemm in this run ${t.sgemm2048GFlops.toFixed(1)} GFLOP/s.`
      : 'Reference: PyTorch not available; reference columns are empty.',
  );
  lines.push(`GFLOP/s are useful work (formulas in bench/README.md) and, in brackets, the share of ${CEILING_GFLOPS} GFLOP/s, this machine's measured float32 sgemm ceiling on 2 threads.`);
  lines.push('');
  lines.push('| workload | metric | mixhead | PyTorch | ratio | target | GFLOP/s mixhead | GFLOP/s PyTorch | note |');
  lines.push('| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | --- |');
  for (const r of rows) {
    const target = r.target ? `${r.target} ${r.pass ? '✅' : '❌'}` : '';
    lines.push(
      `| ${r.workload} | ${r.metric} (${r.unit}) | ${fmt(r.mixhead, 2)} | ${fmt(r.reference, 2)} | ${r.ratio != null ? r.ratio.toFixed(2) + '×' : ''} | ${target} | ${r.gflopsMixhead != null ? r.gflopsMixhead.toFixed(2) + pct(r.gflopsMixhead) : ''} | ${r.gflopsReference != null ? r.gflopsReference.toFixed(2) + pct(r.gflopsReference) : ''} | ${r.note ?? ''} |`,
    );
  }
  const prof = results.profile as Record<string, { top: { self: number; pct: number; name: string }[]; totalMs: number }> | undefined;
  if (prof) {
    lines.push('');
    lines.push('## Profile: top self time (V8 CPU profile of trainHead)');
    for (const [name, p] of Object.entries(prof)) {
      lines.push('');
      lines.push(`**${name}** (${(p.totalMs / 1000).toFixed(1)} s sampled)`);
      lines.push('');
      lines.push('| self ms | % | function |');
      lines.push('| ---: | ---: | --- |');
      for (const f of p.top.slice(0, 12)) lines.push(`| ${f.self.toFixed(0)} | ${f.pct.toFixed(1)} | \`${f.name}\` |`);
    }
  }
  lines.push('');
  return lines.join('\n');
}

// ---------------------------------------------------------------- workloads

interface Ctx {
  quick: boolean;
  torch: boolean;
  work: string;
  budgetMiB: number;
  /** The memory workload's cache is this many times the budget. */
  cacheMultiple: number;
  cgroup: boolean;
  backend: string;
}

interface PrecomputeOut {
  trainCache: string;
  testCache: string;
}

async function benchPrecompute(ctx: Ctx): Promise<PrecomputeOut> {
  const perClass = ctx.quick ? 10 : 25; // speed set: 100 / 250 images
  const accPerClass = ctx.quick ? 16 : 50; // accuracy sets: 160 / 500 images each
  const data = path.join(ctx.work, 'data');
  const speedDir = path.join(data, `fm-speed-${perClass}`);
  const trainDir = path.join(data, `fm-train-${accPerClass}`);
  const testDir = path.join(data, `fm-test-${accPerClass}`);
  await writeFashionSample({ out: speedDir, perClass, split: 'train' });
  await writeFashionSample({ out: trainDir, perClass: accPerClass, split: 'train' });
  await writeFashionSample({ out: testDir, perClass: accPerClass, split: 'test' });
  const nSpeed = perClass * 10;
  const caches = path.join(ctx.work, 'caches');
  const fresh = (name: string) => {
    const dir = path.join(caches, name);
    rmSync(dir, { recursive: true, force: true });
    return dir;
  };
  const flopsPerImage = 2 * mobilenetV2Macs(224);

  // Worker start-up (model load per worker), measured on its own: precompute's own timing includes it.
  const startup: Record<number, number> = {};
  for (const workers of [1, 2]) {
    const t = now();
    const pool = await ExtractorPool.start({ backbone: { preprocess: {} }, workers, backend: ctx.backend });
    startup[workers] = now() - t;
    await pool.close();
  }
  const run = async (dir: string, cache: string, workers: number, dtype: CacheDtype) => {
    const t = now();
    const r = await precompute({ data: dir, cache, workers, dtype, backend: ctx.backend, progress: false });
    const wall = now() - t;
    return { images: r.computed, wall, reported: r.imagesPerSecond, steady: r.computed / Math.max(1e-9, wall - startup[workers]), workers: r.workers };
  };
  log(`precompute: ${nSpeed} PNGs, 2 workers`);
  const w2 = await run(speedDir, fresh('speed-w2'), 2, 'float16');
  log(`precompute: ${nSpeed} PNGs, 1 worker`);
  const w1 = await run(speedDir, fresh('speed-w1'), 1, 'float16');
  let torch: { imagesPerSecond: number; decodeSeconds: number; forwardSeconds: number; seconds: number; images: number } | undefined;
  if (ctx.torch) {
    log(`precompute: ${nSpeed} PNGs, PyTorch`);
    torch = await reference(['precompute', '--data', speedDir, '--batch', '16']);
  }
  results.precompute = { images: nSpeed, startupSeconds: startup, w2, w1, torch, flopsPerImage };
  const note = (r: typeof w2) => `end to end ${fmt(r.reported)} img/s incl. ${startup[r.workers].toFixed(1)} s worker start-up`;
  row({
    workload: 'precompute',
    metric: `${nSpeed} Fashion PNGs → 7×7×1280, 2 workers`,
    mixhead: w2.steady,
    reference: torch?.imagesPerSecond,
    unit: 'img/s',
    target: '≥ 2×',
    pass: torch ? w2.steady / torch.imagesPerSecond >= 2 : undefined,
    gflopsMixhead: (w2.steady * flopsPerImage) / 1e9,
    gflopsReference: torch ? (torch.imagesPerSecond * flopsPerImage) / 1e9 : undefined,
    note: `${note(w2)}; PyTorch batch 16, 2 threads, decode ${torch ? ((100 * torch.decodeSeconds) / torch.seconds).toFixed(0) : '?'}% of its time`,
  });
  row({
    workload: 'precompute',
    metric: `same, 1 worker`,
    mixhead: w1.steady,
    reference: torch?.imagesPerSecond,
    unit: 'img/s',
    gflopsMixhead: (w1.steady * flopsPerImage) / 1e9,
    note: note(w1),
  });
  row({ workload: 'scaling', metric: 'precompute, 2 workers vs 1', mixhead: w2.steady / w1.steady, unit: '×', ratio: w2.steady / w1.steady, note: `${fmt(w1.steady)} → ${fmt(w2.steady)} img/s; ideal 2×` });

  // Decoding alone: the 28×28 PNGs, and photo-sized JPEGs (real photos cost far more to decode).
  const photoDir = path.join(data, 'photos-1600x1200');
  await fs.mkdir(photoDir, { recursive: true });
  const nPhotos = ctx.quick ? 16 : 48;
  const rand = seededUniform(7);
  for (let i = 0; i < nPhotos; i++) {
    const file = path.join(photoDir, `p${String(i).padStart(3, '0')}.jpg`);
    if (existsSync(file)) continue;
    const w = 160;
    const h = 120;
    const px = Buffer.alloc(w * h * 3);
    for (let j = 0; j < px.length; j++) px[j] = Math.floor(rand() * 256);
    // Smooth content plus grain, like a photo: upscale noise, then add fine noise via a second layer.
    const base = await sharp(px, { raw: { width: w, height: h, channels: 3 } }).resize(1600, 1200, { kernel: 'cubic' }).blur(2).raw().toBuffer();
    for (let j = 0; j < base.length; j += 7) base[j] = Math.min(255, base[j] + Math.floor(rand() * 24));
    await sharp(base, { raw: { width: 1600, height: 1200, channels: 3 } }).jpeg({ quality: 90 }).toFile(file);
  }
  const spec = { size: 224, range: [0, 1] as [number, number], fit: 'cover' as const };
  const decodeRate = async (dir: string) => {
    const files = (await fs.readdir(dir, { recursive: true })).filter((f) => /\.(png|jpg)$/.test(String(f))).sort().map((f) => path.join(dir, String(f)));
    const t = now();
    for (let i = 0; i < files.length; i += 16) await Promise.all(files.slice(i, i + 16).map(async (f) => decodeImage(await fs.readFile(f), spec)));
    return files.length / (now() - t);
  };
  const decPng = await decodeRate(speedDir);
  const decJpg = await decodeRate(photoDir);
  let tPng: number | undefined;
  let tJpg: number | undefined;
  if (ctx.torch) {
    tPng = (await reference<{ imagesPerSecond: number }>(['decode', '--data', speedDir]))?.imagesPerSecond;
    tJpg = (await reference<{ imagesPerSecond: number }>(['decode', '--data', photoDir]))?.imagesPerSecond;
  }
  results.decode = { pngPerSecond: decPng, jpegPerSecond: decJpg, torchPng: tPng, torchJpeg: tJpg };
  row({ workload: 'precompute', metric: 'decode only, 28×28 PNG → 224²', mixhead: decPng, reference: tPng, unit: 'img/s', note: 'sharp (libuv pool, 16 at a time) vs PIL in one thread' });
  row({ workload: 'precompute', metric: 'decode only, 1600×1200 JPEG → 224²', mixhead: decJpg, reference: tJpg, unit: 'img/s', note: `${nPhotos} synthetic photo-sized JPEGs: decode becomes a real share of precompute` });

  // The accuracy sets at float32 (the cache workload re-encodes them into float16 and uint8).
  const trainCache = fresh(`fm-train-${accPerClass}-f32`);
  const testCache = fresh(`fm-test-${accPerClass}-f32`);
  log(`precompute: ${accPerClass * 10} + ${accPerClass * 10} PNGs (float32, accuracy sets), 2 workers`);
  const acc1 = await run(trainDir, trainCache, 2, 'float32');
  const acc2 = await run(testDir, testCache, 2, 'float32');
  (results.precompute as Record<string, unknown>).accuracySets = { train: acc1, test: acc2 };
  return { trainCache, testCache };
}

interface HeadRun {
  records: EpochRecord[];
  /** Per epoch: seconds from epoch start to the last optimizer step. */
  stepSeconds: number[];
  /** Per epoch: seconds of the clean evaluation after the steps (and the epoch callback). */
  evalSeconds: number[];
  wallSeconds: number;
}

async function timedTrain(set: FeatureSet, head: 'linear' | 'conv', epochs: number, extra: { onBatch?: () => void } = {}): Promise<HeadRun> {
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

/** Mean over epochs after the first (the first pays for kernel set-up and head building). */
const steady = (xs: number[]) => mean(xs.length > 1 ? xs.slice(1) : xs);

async function benchTrain(ctx: Ctx): Promise<void> {
  const n = ctx.quick ? 1024 : 2048;
  const epochs = { linear: ctx.quick ? 3 : 5, conv: ctx.quick ? 2 : 3 };
  log(`train: generating ${n} random maps`);
  const maps = reluMaps(n, 1);
  const labels = seededLabels(n, 2);
  const classes = Array.from({ length: K }, (_, i) => `c${i}`);
  const t = now();
  const set = memoryFeatureSet({ maps, featureShape: [H, W, C], labels, classes });
  const setSeconds = now() - t;
  const out: Record<string, unknown> = { n, epochs, memoryFeatureSetSeconds: setSeconds };
  for (const head of ['linear', 'conv'] as const) {
    log(`train: mixhead ${head} head, ${epochs[head]} epochs of ${n}`);
    const m = await timedTrain(set, head, epochs[head]);
    let torch: { epochs: { trainSeconds: number; evalSeconds: number }[] } | undefined;
    if (ctx.torch) {
      log(`train: PyTorch ${head} head`);
      torch = await reference(['train', '--n', String(n), '--epochs', String(epochs[head]), '--head', head, '--hidden', String(CONV_HIDDEN), '--eval']);
    }
    const f = headFlops(head);
    const reported = steady(m.records.map((r) => r.samplesPerSecond));
    const stepsOnly = n / steady(m.stepSeconds);
    const whole = (n * epochs[head]) / m.wallSeconds;
    const tTrain = torch ? n / steady(torch.epochs.map((e) => e.trainSeconds)) : undefined;
    const tWhole = torch ? n / steady(torch.epochs.map((e) => e.trainSeconds + e.evalSeconds)) : undefined;
    out[head] = { mixhead: m, torch, reported, stepsOnly, whole };
    const target = head === 'linear' ? 5 : 1;
    row({
      workload: `train ${head}`,
      metric: 'samples/s, optimizer steps only',
      mixhead: stepsOnly,
      reference: tTrain,
      unit: 'samples/s',
      target: `≥ ${target}×`,
      pass: tTrain ? stepsOnly / tTrain >= target : undefined,
      gflopsMixhead: gflops(n * f.train, n / stepsOnly),
      gflopsReference: tTrain ? gflops(n * f.train, n / tTrain) : undefined,
      note: `N=${n}, batch 64, mean of epochs 2..${epochs[head]}`,
    });
    row({
      workload: `train ${head}`,
      metric: 'samples/s as EpochRecord reports (steps + clean eval)',
      mixhead: reported,
      reference: tWhole,
      unit: 'samples/s',
      target: `≥ ${target}×`,
      pass: tWhole ? reported / tWhole >= target : undefined,
      gflopsMixhead: gflops(n * (f.train + f.eval), n / reported),
      gflopsReference: tWhole ? gflops(n * (f.train + f.eval), n / tWhole) : undefined,
      note: 'PyTorch column: its loop plus the same clean-set evaluation',
    });
    row({
      workload: `train ${head}`,
      metric: 'samples/s per whole trainHead call',
      mixhead: whole,
      reference: torch ? n / mean(torch.epochs.map((e) => e.trainSeconds + e.evalSeconds)) : undefined,
      unit: 'samples/s',
      note: `all ${epochs[head]} epochs incl. head build and the first epoch; eval ${fmt((100 * steady(m.evalSeconds)) / (steady(m.stepSeconds) + steady(m.evalSeconds)), 0)}% of a mixhead epoch`,
    });
  }
  results.train = out;
}

/** A float-filled cache of `n` synthetic entries (putMany, so the codec's real encode path runs). */
async function syntheticCache(dir: string, dtype: CacheDtype, n: number, seed: number, distinct = n): Promise<{ seconds: number; header: CacheHeader }> {
  rmSync(dir, { recursive: true, force: true });
  const header = makeHeader({
    backbone: { id: 'synthetic', weightsHash: 'none', cut: 'none', kind: 'layers' },
    preprocess: { size: 224, range: [0, 1], fit: 'cover' },
    featureShape: [H, W, C],
    dtype,
    classes: Array.from({ length: K }, (_, i) => `c${i}`),
    multiLabel: false,
  });
  const cache = FeatureCache.create(dir, header, { onNotice: () => {} });
  const rand = seededUniform(seed);
  const t = now();
  const batch = 64;
  try {
    if (distinct >= n) {
      for (let i = 0; i < n; i += batch) {
        const m = Math.min(batch, n - i);
        const maps = reluMaps(m, seed * 1000 + i);
        cache.putMany(
          Array.from({ length: m }, (_, j) => ({ key: `k${String(i + j).padStart(8, '0')}`, id: `e${i + j}`, source: 'synthetic', labels: [`c${Math.floor(rand() * K)}`], features: maps.subarray(j * HWC, (j + 1) * HWC) })),
        );
      }
    } else {
      // Large caches: `distinct` base maps encoded once, written under distinct keys (bytes still all on disk).
      const bases = reluMaps(Math.min(distinct, 256), seed);
      const nb = bases.length / HWC;
      const enc = Array.from({ length: nb }, (_, b) => cache.codec.encode(bases.subarray(b * HWC, (b + 1) * HWC)));
      for (let i = 0; i < n; i += 256) {
        const m = Math.min(256, n - i);
        cache.putEncodedMany(
          Array.from({ length: m }, (_, j) => ({ key: `k${String(i + j).padStart(8, '0')}`, meta: { id: `e${i + j}`, source: 'synthetic', labels: [`c${Math.floor(rand() * K)}`] }, bytes: enc[(i + j) % nb] })),
        );
      }
    }
  } finally {
    await cache.close();
  }
  return { seconds: now() - t, header };
}

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
        entries.push({ key: reader.keys[j], id: reader.ids[j], source: reader.sources[j], labels: reader.labelsOf(j), features: buf.slice() });
      }
      cache.putMany(entries);
    }
  } finally {
    await cache.close();
    await reader.close();
  }
}

async function benchCache(ctx: Ctx, acc: PrecomputeOut | undefined): Promise<void> {
  const n = ctx.quick ? 512 : 2048;
  const dtypes: CacheDtype[] = ['float32', 'float16', 'uint8'];
  const out: Record<string, unknown> = { entries: n };
  const info: Record<string, { bytesPerEntry: number; diskPerEntry: number; writePerSecond: number; readGBs: number; readEntries: number }> = {};
  for (const dtype of dtypes) {
    const dir = path.join(ctx.work, 'caches', `synthetic-${dtype}`);
    log(`cache: ${n} synthetic entries, ${dtype}`);
    const w = await syntheticCache(dir, dtype, n, 11);
    const reader = CacheReader.open(dir);
    const order = permutation(n, 3);
    const buf = new Float32Array(64 * HWC);
    let secs = 0;
    for (let pass = 0; pass < 2; pass++) {
      const t = now();
      for (let i = 0; i < n; i += 64) reader.readRows(order.subarray(i, Math.min(n, i + 64)), buf);
      secs = now() - t; // the second pass: pages resident, as when a cache fits in RAM
    }
    await reader.close();
    const opened = FeatureCache.open(dir, { readonly: true });
    const bytesPerEntry = opened.codec.byteLength(opened.featureSize);
    await opened.close();
    const disk = diskBytes(dir);
    info[dtype] = { bytesPerEntry, diskPerEntry: disk.allocated / n, writePerSecond: n / w.seconds, readGBs: (n * HWC * 4) / secs / 1e9, readEntries: n / secs };
    rmSync(dir, { recursive: true, force: true });
  }
  out.synthetic = info;
  for (const dtype of dtypes) {
    const i = info[dtype];
    row({
      workload: 'cache',
      metric: `${dtype}: bytes/entry (on disk incl. lmdb)`,
      mixhead: i.bytesPerEntry,
      unit: 'B',
      ratio: i.bytesPerEntry / info.float32.bytesPerEntry,
      target: dtype === 'uint8' ? '≤ 0.25× float32' : undefined,
      pass: dtype === 'uint8' ? i.bytesPerEntry / info.float32.bytesPerEntry <= 0.25 : undefined,
      note: `${fmt(i.diskPerEntry, 0)} B on disk; ratio vs float32`,
    });
    row({
      workload: 'cache',
      metric: `${dtype}: random-order readRows, batches of 64`,
      mixhead: i.readEntries,
      unit: 'entries/s',
      note: `${i.readGBs.toFixed(2)} GB/s of decoded float32; writes ${fmt(i.writePerSecond)} entries/s (putMany, synced)`,
    });
  }
  if (acc) {
    const accs: Record<string, number> = {};
    const pf = (p: string, d: CacheDtype) => p.replace(/-f32$/, `-${d}`);
    for (const dtype of dtypes) {
      const tr = dtype === 'float32' ? acc.trainCache : pf(acc.trainCache, dtype);
      const te = dtype === 'float32' ? acc.testCache : pf(acc.testCache, dtype);
      if (dtype !== 'float32') {
        await reencode(acc.trainCache, tr, dtype);
        await reencode(acc.testCache, te, dtype);
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
    out.accuracy = accs;
    const nTrain = CacheReader.open(acc.trainCache);
    const sizes = nTrain.size;
    await nTrain.close();
    row({ workload: 'cache', metric: 'Fashion-MNIST test accuracy, float32', mixhead: 100 * accs.float32, unit: '%', note: `bundled-mobilenet-v2 features, ${sizes} train / ${sizes} test images, linear head, α 0.4, 30 epochs, seed 0` });
    for (const dtype of ['float16', 'uint8'] as const) {
      const d = 100 * (accs[dtype] - accs.float32);
      row({
        workload: 'cache',
        metric: `accuracy change, ${dtype} vs float32`,
        mixhead: d,
        unit: 'pp',
        target: dtype === 'uint8' ? '|Δ| ≤ 0.3 pp' : undefined,
        pass: dtype === 'uint8' ? Math.abs(d) <= 0.3 : undefined,
        note: `${(100 * accs[dtype]).toFixed(2)}%; ${dtype} cache written from the float32 maps with the same codec precompute uses`,
      });
    }
  }
  results.cache = out;
}

/** Child process: train the conv head on a cache for 1 epoch; report memory. */
async function childMemory(cacheDir: string, head: 'linear' | 'conv', epochs: number): Promise<void> {
  const info = await selectBackend();
  const peak = { rss: 0, anon: 0, file: 0 };
  const sample = () => {
    const s = procStatus();
    peak.rss = Math.max(peak.rss, s.VmRSS ?? 0);
    peak.anon = Math.max(peak.anon, s.RssAnon ?? 0);
    peak.file = Math.max(peak.file, s.RssFile ?? 0);
  };
  const t0 = now();
  const reader = CacheReader.open(cacheDir);
  const set = cacheFeatureSet(reader);
  const setSeconds = now() - t0;
  sample();
  let batches = 0;
  const run = await timedTrain(set, head, epochs, {
    onBatch: () => {
      if (++batches % 8 === 0) sample();
    },
  });
  sample();
  await reader.close();
  const s = procStatus();
  const usage = process.resourceUsage();
  console.log(
    JSON.stringify({
      backend: info.name,
      entries: set.size,
      cacheFeatureSetSeconds: setSeconds,
      run: { stepSeconds: run.stepSeconds, evalSeconds: run.evalSeconds, wallSeconds: run.wallSeconds, samplesPerSecond: run.records.map((r) => r.samplesPerSecond) },
      vmHWM: s.VmHWM,
      maxRSS: usage.maxRSS * 1024,
      peakSampled: peak,
    }),
  );
}

function childArgs(extra: string[], nodeFlags: string[] = []): string[] {
  return [...nodeFlags, '--import', 'tsx', SCRIPT, ...extra];
}

/** Runs a child in its own cgroup-v1 memory group with a hard limit, when we may create one. */
async function runLimited(args: string[], limitBytes: number | undefined): Promise<{ code: number; stdout: string; stderr: string; limited: boolean }> {
  const base = '/sys/fs/cgroup/memory';
  if (limitBytes) {
    const group = path.join(base, `mixhead-bench-${process.pid}`);
    try {
      mkdirSync(group);
      writeFileSync(path.join(group, 'memory.limit_in_bytes'), String(limitBytes));
      try {
        writeFileSync(path.join(group, 'memory.memsw.limit_in_bytes'), String(limitBytes));
      } catch {
        /* no swap accounting */
      }
    } catch (err) {
      log(`no memory cgroup (${(err as Error).message.split('\n')[0]}): the child runs without a hard limit`);
      return { ...(await runProcess(process.execPath, args)), limited: false };
    }
    try {
      const sh = `echo $$ > ${group}/cgroup.procs && exec "$0" "$@"`;
      const r = await runProcess('/bin/sh', ['-c', sh, process.execPath, ...args]);
      let failcnt = '';
      try {
        failcnt = readFileSync(path.join(group, 'memory.failcnt'), 'utf8').trim();
      } catch {
        /* ignore */
      }
      return { ...r, stderr: r.stderr + (failcnt ? `\n(cgroup memory.failcnt ${failcnt})` : ''), limited: true };
    } finally {
      for (let i = 0; i < 20; i++) {
        try {
          rmSync(group, { recursive: false });
          break;
        } catch {
          try {
            await fs.rmdir(group);
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }
    }
  }
  return { ...(await runProcess(process.execPath, args)), limited: false };
}

async function benchMemory(ctx: Ctx): Promise<string> {
  const budget = ctx.budgetMiB * 2 ** 20;
  const perEntry = 2 * HWC;
  const n = Math.ceil((ctx.cacheMultiple * budget) / perEntry);
  const dir = path.join(ctx.work, 'caches', `memory-f16-${n}`);
  log(`memory: writing a float16 cache of ${n} entries (${((n * perEntry) / 2 ** 30).toFixed(2)} GiB) for a ${ctx.budgetMiB} MiB budget`);
  const w = await syntheticCache(dir, 'float16', n, 21, 256);
  const disk = diskBytes(dir);
  log(`memory: child trains the conv head for 1 epoch${ctx.cgroup ? ` under a ${ctx.budgetMiB} MiB cgroup limit` : ''}`);
  // Drop this file's pages from the page cache (only ours: dd's nocache is a per-file fadvise), so
  // the child faults them in itself and, under the cgroup, they count against its limit.
  await runProcess('dd', [`if=${path.join(dir, 'data.mdb')}`, 'iflag=nocache', 'count=0', 'status=none']);
  const r = await runLimited(childArgs(['--child', 'memory', '--cache', dir, '--head', 'conv', '--epochs', '1']), ctx.cgroup ? budget : undefined);
  if (r.code !== 0) {
    log(`memory child failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-4).join(' | ')}`);
    results.memory = { entries: n, failed: true, code: r.code, limited: r.limited, stderr: r.stderr.slice(-2000) };
    row({ workload: 'memory', metric: `conv head on ${fmt(disk.allocated / 2 ** 30, 2)} GiB cache`, unit: '', note: `child FAILED (exit ${r.code}${r.limited ? `, ${ctx.budgetMiB} MiB cgroup limit` : ''})` });
    return dir;
  }
  const c = lastJson<{ vmHWM: number; maxRSS: number; peakSampled: { rss: number; anon: number; file: number }; run: { stepSeconds: number[]; evalSeconds: number[]; wallSeconds: number }; cacheFeatureSetSeconds: number; entries: number }>(r.stdout);
  results.memory = { entries: n, cacheBytes: disk.allocated, writeSeconds: w.seconds, budgetBytes: budget, limited: r.limited, child: c };
  const gib = (b: number) => b / 2 ** 30;
  row({
    workload: 'memory',
    metric: `peak RSS training conv head on a ${gib(disk.allocated).toFixed(2)} GiB float16 cache`,
    mixhead: c.vmHWM / 2 ** 20,
    unit: 'MiB',
    ratio: disk.allocated / c.vmHWM,
    target: `anonymous peak ≤ budget ${ctx.budgetMiB} MiB, cache ${ctx.cacheMultiple}× it`,
    pass: c.peakSampled.anon <= budget,
    note: `VmHWM; peak anonymous ${fmt(c.peakSampled.anon / 2 ** 20, 0)} MiB, peak file-backed (lmdb map, reclaimable) ${fmt(c.peakSampled.file / 2 ** 20, 0)} MiB; ${r.limited ? `ran under a hard ${ctx.budgetMiB} MiB cgroup limit` : 'no hard limit'}; ratio = cache / peak RSS`,
  });
  row({
    workload: 'scaling',
    metric: `conv head, ${n} entries from the cache, 1 epoch`,
    mixhead: n / c.run.stepSeconds[0],
    unit: 'samples/s',
    note: `steps ${c.run.stepSeconds[0].toFixed(1)} s + clean eval ${c.run.evalSeconds[0].toFixed(1)} s; pooled vectors up front ${c.cacheFeatureSetSeconds.toFixed(1)} s`,
  });
  return dir;
}

async function benchScaling(ctx: Ctx, cacheDir: string | undefined): Promise<void> {
  const sizes = ctx.quick ? [1024, 4096] : [1024, 4096, 16384];
  const need = sizes[sizes.length - 1];
  let dir = cacheDir;
  if (!dir || CacheReader.open(dir).size < need) {
    dir = path.join(ctx.work, 'caches', `scaling-f16-${need}`);
    log(`scaling: writing a float16 cache of ${need} entries`);
    await syntheticCache(dir, 'float16', need, 31, 256);
  }
  const reader = CacheReader.open(dir);
  const t = now();
  const all = cacheFeatureSet(reader);
  const pooledSeconds = now() - t;
  const out: Record<string, unknown> = { pooledSeconds, cacheEntries: reader.size };
  const perSample: Record<string, number[]> = { linear: [], conv: [] };
  for (const head of ['linear', 'conv'] as const) {
    for (const s of sizes) {
      if (head === 'conv' && s > 4096) continue; // the memory workload gives the large conv point
      const sub = subsetFeatureSet(all, Int32Array.from({ length: s }, (_, i) => i));
      const epochs = head === 'linear' ? 3 : 1;
      log(`scaling: ${head} head, ${s} entries, ${epochs} epoch(s)`);
      const r = await timedTrain(sub, head, epochs);
      const stepS = head === 'linear' ? steady(r.stepSeconds) : r.stepSeconds[0];
      const evalS = head === 'linear' ? steady(r.evalSeconds) : r.evalSeconds[0];
      perSample[head].push((stepS + evalS) / s);
      out[`${head}-${s}`] = r;
      row({
        workload: 'scaling',
        metric: `${head} head, ${s} entries: seconds per epoch`,
        mixhead: stepS + evalS,
        unit: 's',
        note: `${fmt(s / stepS)} samples/s in steps; ${((1e3 * (stepS + evalS)) / s).toFixed(3)} ms per sample per epoch (incl. eval)`,
      });
    }
  }
  out.perSample = perSample;
  results.scaling = out;
  await reader.close();
}

// ---------------------------------------------------------------- profile

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }[];
  samples: number[];
  timeDeltas: number[];
}

function summarizeProfile(file: string): { totalMs: number; top: { self: number; pct: number; name: string }[] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i])!;
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const cf = n.callFrame;
    const where = cf.url ? `${cf.url.replace(/^file:\/\//, '').replace(ROOT + '/', '').replace(/.*node_modules\//, '')}:${cf.lineNumber + 1}` : '';
    const name = `${cf.functionName || '(anonymous)'}${where ? ' ' + where : ''}`;
    self.set(name, (self.get(name) ?? 0) + dt);
  }
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([name, ms]) => ({ name, self: ms, pct: (100 * ms) / total }));
  return { totalMs: total, top };
}

async function childProfile(head: 'linear' | 'conv', n: number, epochs: number): Promise<void> {
  await selectBackend();
  const maps = reluMaps(n, 1);
  const set = memoryFeatureSet({ maps, featureShape: [H, W, C], labels: seededLabels(n, 2), classes: Array.from({ length: K }, (_, i) => `c${i}`) });
  // Profile only the training (not the data generation above) through the inspector.
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  const r = await timedTrain(set, head, epochs);
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(path.join(process.env.BENCH_PROFILE_DIR ?? '.', `train-${head}.cpuprofile`), JSON.stringify(profile));
  session.disconnect();
  console.log(JSON.stringify({ stepSeconds: r.stepSeconds, evalSeconds: r.evalSeconds }));
}

async function benchProfile(ctx: Ctx): Promise<void> {
  const out: Record<string, unknown> = {};
  const profDir = path.join(ctx.work, 'profiles');
  for (const [head, n, epochs] of [
    ['linear', 2048, 4],
    ['conv', 512, 2],
  ] as const) {
    const dir = path.join(profDir, head);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    log(`profile: ${head} head, ${n} samples × ${epochs} epochs under --cpu-prof`);
    const r = await runProcess(process.execPath, childArgs(['--child', 'profile', '--head', head, '--n', String(n), '--epochs', String(epochs)]), { env: { ...process.env, BENCH_PROFILE_DIR: dir } });
    if (r.code !== 0) {
      log(`profile child failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      continue;
    }
    const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
    // The main thread's profile is the largest (tsx may write a tiny one for its loader).
    const sized = files.map((f) => ({ f, s: statSync(path.join(dir, f)).size })).sort((a, b) => b.s - a.s);
    if (!sized.length) continue;
    const summary = summarizeProfile(path.join(dir, sized[0].f));
    out[`${head} head, N=${n}, ${epochs} epochs`] = { ...summary, file: path.join(dir, sized[0].f), timing: lastJson(r.stdout) };
    log(`profile ${head}: ${summary.top.slice(0, 6).map((t) => `${t.pct.toFixed(0)}% ${t.name}`).join('; ')}`);
  }
  results.profile = out;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'no-torch': { type: 'boolean', default: false },
      cgroup: { type: 'boolean', default: false },
      'budget-mib': { type: 'string' },
      work: { type: 'string' },
      keep: { type: 'boolean', default: false },
      out: { type: 'string', default: BENCH_DIR },
      child: { type: 'string' },
      cache: { type: 'string' },
      head: { type: 'string', default: 'conv' },
      epochs: { type: 'string', default: '1' },
      n: { type: 'string', default: '1024' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('usage: npx tsx scripts/bench.ts [--quick] [--only precompute,train,cache,memory,scaling,profile] [--no-torch] [--cgroup] [--budget-mib N] [--work DIR] [--keep] [--out DIR]');
    return;
  }
  if (values.child === 'memory') return childMemory(values.cache!, values.head as 'linear' | 'conv', Number(values.epochs));
  if (values.child === 'profile') return childProfile(values.head as 'linear' | 'conv', Number(values.n), Number(values.epochs));

  const quick = values.quick!;
  const all = ['precompute', 'train', 'cache', 'memory', 'scaling', 'profile'];
  const only = new Set(values.only ? values.only.split(',').map((s) => s.trim()) : quick ? all.filter((w) => w !== 'profile') : all);
  const unknown = [...only].filter((w) => !all.includes(w));
  if (unknown.length) throw new Error(`--only: unknown workload ${unknown.join(', ')}; use ${all.join(', ')}`);
  const t0 = now();
  const backend = await selectBackend();
  const work = path.resolve(values.work ?? path.join(os.tmpdir(), 'mixhead-bench'));
  mkdirSync(work, { recursive: true });
  const cpu = /model name\s*:\s*(.*)/.exec(existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '')?.[1] ?? os.cpus()[0]?.model ?? '?';
  const machine = {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    backend: backend.name,
    date: new Date().toISOString(),
    loadavgAtStart: os.loadavg(),
  };
  results.quick = quick;
  results.machine = machine;
  results.ceilingGFlops = CEILING_GFLOPS;
  log(`machine: ${machine.nproc} × ${cpu}; backend ${backend.name}; work dir ${work}`);

  let torch = !values['no-torch'];
  if (torch) {
    const info = await reference<TorchInfo>(['info']);
    if (!info) {
      log(`PyTorch reference unavailable (${PYTHON} cannot import torch/torchvision: apt-get install python3-torch python3-torchvision python3-pil libopenblas0-pthread); running mixhead only`);
      torch = false;
    } else {
      results.torch = info;
      log(`reference: torch ${info.torch}, ${info.threads} threads, BLAS ${info.blasLibs.join(', ') || info.blasInfo}, oneDNN ${info.mkldnn}; sgemm 2048² ${info.sgemm2048GFlops.toFixed(1)} GFLOP/s; MobileNetV2 features ${(info.mobilenetV2FeaturesMacs224 / 1e6).toFixed(1)} M MACs (ours: ${(mobilenetV2Macs() / 1e6).toFixed(1)} M)`);
    }
  }
  const ctx: Ctx = {
    quick,
    torch,
    work,
    budgetMiB: Number(values['budget-mib'] ?? (quick ? 512 : 1024)),
    cacheMultiple: quick ? 2 : 3,
    cgroup: values.cgroup!,
    backend: backend.name,
  };
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T | undefined> => {
    if (!only.has(name)) return undefined;
    const t = now();
    try {
      return await f();
    } catch (err) {
      log(`${name} FAILED: ${(err as Error).stack ?? err}`);
      row({ workload: name, metric: 'failed', unit: '', note: (err as Error).message.split('\n')[0] });
      return undefined;
    } finally {
      timings[name] = now() - t;
      log(`${name}: ${timings[name].toFixed(0)} s`);
    }
  };
  let acc = await timed('precompute', () => benchPrecompute(ctx));
  await timed('train', () => benchTrain(ctx));
  if (only.has('cache') && !acc) {
    // The accuracy part needs real features even when precompute's timings were not asked for.
    const saveRows = rows.length;
    acc = await benchPrecompute(ctx);
    rows.splice(saveRows);
  }
  await timed('cache', () => benchCache(ctx, acc));
  const memCache = await timed('memory', () => benchMemory(ctx));
  await timed('scaling', () => benchScaling(ctx, memCache));
  await timed('profile', () => benchProfile(ctx));
  results.rows = rows;
  results.seconds = timings;
  results.totalSeconds = now() - t0;
  mkdirSync(values.out!, { recursive: true });
  writeFileSync(path.join(values.out!, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  const md = markdown(machine) + `\nTotal ${(results.totalSeconds as number).toFixed(0)} s (${Object.entries(timings).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')}).\n`;
  writeFileSync(path.join(values.out!, 'results.md'), md);
  console.log(md);
  if (!values.keep) rmSync(path.join(work, 'caches'), { recursive: true, force: true });
}

await main();
