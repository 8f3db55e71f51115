/**
 * train-engines: the whole `mixhead train` process (dist/, as users run it) on each training engine
 * against the PyTorch loop of reference.py, per head as the issue measured them: 800 cached
 * 7×7×1280 float32 maps, batch 64, Adam lr 1e-3, α 0.4 — linear (features, 40 epochs), mlp (hidden,
 * 40 epochs), conv (features, 5 epochs). PyTorch runs at 1 and 2 threads (Debian's torch calls
 * OpenBLAS, whose own threads torch.set_num_threads does not govern) and its better wall time is the
 * reference. Rows: whole process (wall) and training throughput (samples/s over the epochs, steps
 * plus the per-epoch clean evaluation, as report.json records them).
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { CONV_HIDDEN, ROOT, fmt, log, now, reference, row, runProcess, syntheticCache, type BenchContext, type BenchRow } from './lib.js';

type TorchTrain = { epochs: { trainSeconds: number; evalSeconds: number }[] };

const CASES = [
  { head: 'linear', mixAt: 'features', epochs: 40, hidden: undefined, target: 4 },
  { head: 'mlp', mixAt: 'hidden', epochs: 40, hidden: 512, target: 1.5 },
  { head: 'conv', mixAt: 'features', epochs: 5, hidden: CONV_HIDDEN, target: 1 },
] as const;

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const n = ctx.quick ? 320 : 800;
  const cli = path.join(ROOT, 'dist/src/cli/main.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
  const cache = path.join(ctx.workDir, `train-engines-${n}`);
  log(`train-engines: writing ${n} synthetic float32 maps`);
  await syntheticCache(cache, 'float32', n, 3);
  const details: Record<string, unknown> = { n };
  for (const c of CASES) {
    const epochs = ctx.quick ? Math.max(2, Math.round(c.epochs / 4)) : c.epochs;
    const runs: Record<string, { wall: number; samplesPerSecond: number; engine: string }> = {};
    for (const engine of ['onnx', 'tfjs'] as const) {
      const out = path.join(ctx.workDir, `train-engines-run-${c.head}-${engine}`);
      const args = [cli, 'train', '--cache', cache, '--out', out, '--head', c.head, '--mix-at', c.mixAt, '--epochs', String(epochs), '--lr', '1e-3', '--batch-size', '64', '--alpha', '0.4', '--train-engine', engine, '--no-combined', '--overwrite', '--json'];
      if (c.hidden) args.push('--hidden', String(c.hidden));
      log(`train-engines: mixhead train ${c.head} (${c.mixAt}) on ${engine}, ${epochs} epochs of ${n}`);
      const t = now();
      const r = await runProcess(process.execPath, args);
      const wall = now() - t;
      if (r.code !== 0) throw new Error(`mixhead train ${c.head} on ${engine} failed: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
      const report = JSON.parse(await fs.readFile(path.join(out, 'report.json'), 'utf8')) as { trainEngine: string; history: { seconds: number }[] };
      const trainSeconds = report.history.reduce((s, e) => s + e.seconds, 0);
      runs[engine] = { wall, samplesPerSecond: (n * report.history.length) / trainSeconds, engine: report.trainEngine };
    }
    let torch: { wall: number; threads: number; samplesPerSecond: number } | undefined;
    for (const threads of [1, 2]) {
      const t = now();
      const args = ['train', '--n', String(n), '--epochs', String(epochs), '--head', c.head, '--mix-at', c.mixAt, '--hidden', String(c.hidden ?? CONV_HIDDEN), '--eval'];
      const res = await reference<TorchTrain>(ctx, args, { env: { ...process.env, BENCH_THREADS: String(threads), OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) } });
      const wall = now() - t;
      if (!res) continue;
      const loop = res.epochs.reduce((s, e) => s + e.trainSeconds + e.evalSeconds, 0);
      if (!torch || wall < torch.wall) torch = { wall, threads, samplesPerSecond: (n * epochs) / loop };
    }
    details[c.head] = { epochs, mixhead: runs, torch };
    rows.push(
      row({
        workload: `train-engines ${c.head}`,
        metric: `whole mixhead train process, ${c.mixAt} mix, ${epochs} epochs of ${n}, onnx engine vs PyTorch's best thread count`,
        mixhead: runs.onnx.wall,
        reference: torch?.wall,
        unit: 's',
        ratio: torch ? torch.wall / runs.onnx.wall : undefined,
        target: `≥ ${c.target}×`,
        pass: torch ? torch.wall / runs.onnx.wall >= c.target : undefined,
        note: `tfjs engine ${fmt(runs.tfjs.wall)} s; PyTorch at ${torch?.threads ?? '?'} thread(s); ratio = PyTorch s / mixhead s`,
      }),
      row({
        workload: `train-engines ${c.head}`,
        metric: 'training samples/s (steps + clean eval, report.json), onnx vs tfjs engine',
        mixhead: runs.onnx.samplesPerSecond,
        reference: runs.tfjs.samplesPerSecond,
        unit: 'samples/s',
        note: `reference column: the tfjs engine (${runs.tfjs.engine}); PyTorch loop ${fmt(torch?.samplesPerSecond)} samples/s`,
      }),
    );
  }
  ctx.details['train-engines'] = details;
  return rows;
}
