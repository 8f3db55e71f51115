/**
 * train: head training on N random ReLU(N(0, 1)) 7×7×1280 maps with per-sample mixup, linear and
 * conv heads (PyTorch reference: the same model and mixup written the PyTorch way).
 */
import { memoryFeatureSet } from '../src/train/features.js';
import { C, CONV_HIDDEN, H, W, fmt, gflops, headFlops, log, mean, now, reference, reluMaps, row, seededLabels, steady, syntheticClasses, timedTrain, type BenchContext, type BenchRow } from './lib.js';

type TorchTrain = { epochs: { trainSeconds: number; evalSeconds: number }[] };

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const n = ctx.quick ? 1024 : 2048;
  const epochs = { linear: ctx.quick ? 3 : 5, conv: ctx.quick ? 2 : 3 };
  log(`train: generating ${n} random maps`);
  const maps = reluMaps(n, 1);
  const labels = seededLabels(n, 2);
  const t = now();
  const set = memoryFeatureSet({ maps, featureShape: [H, W, C], labels, classes: syntheticClasses() });
  const details: Record<string, unknown> = { n, epochs, memoryFeatureSetSeconds: now() - t };
  for (const head of ['linear', 'conv'] as const) {
    log(`train: mixhead ${head} head, ${epochs[head]} epochs of ${n}`);
    const m = await timedTrain(set, head, epochs[head]);
    log(`train: PyTorch ${head} head`);
    const torch = await reference<TorchTrain>(ctx, ['train', '--n', String(n), '--epochs', String(epochs[head]), '--head', head, '--hidden', String(CONV_HIDDEN), '--eval']);
    const f = headFlops(head);
    const reported = steady(m.records.map((r) => r.samplesPerSecond));
    const stepsOnly = n / steady(m.stepSeconds);
    const whole = (n * epochs[head]) / m.wallSeconds;
    const tTrain = torch ? n / steady(torch.epochs.map((e) => e.trainSeconds)) : undefined;
    const tWhole = torch ? n / steady(torch.epochs.map((e) => e.trainSeconds + e.evalSeconds)) : undefined;
    details[head] = { mixhead: m, torch, reported, stepsOnly, whole };
    const target = head === 'linear' ? 5 : 1;
    rows.push(
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
      }),
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
      }),
      row({
        workload: `train ${head}`,
        metric: 'samples/s per whole trainHead call',
        mixhead: whole,
        reference: torch ? n / mean(torch.epochs.map((e) => e.trainSeconds + e.evalSeconds)) : undefined,
        unit: 'samples/s',
        note: `all ${epochs[head]} epochs incl. head build and the first epoch; eval ${fmt((100 * steady(m.evalSeconds)) / (steady(m.stepSeconds) + steady(m.evalSeconds)), 0)}% of a mixhead epoch`,
      }),
    );
  }
  ctx.details.train = details;
  return rows;
}
