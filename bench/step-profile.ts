/**
 * step-profile: where one ONNX training step of each head spends its time (ONNX Runtime's own
 * profiler, per node), for the heads as `mixhead train` runs them by default: mlp with the mix at
 * its hidden layer, conv with the mix at the features, batch 64, 7×7×1280 maps, Adam, dropout, with
 * the training engine's session settings (2 threads, no spin-waiting).
 * Rows: the step's wall time, its GFLOP/s, and the op type with the most time (the hot spot);
 * results.json keeps the whole table per op type.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { loadOrt } from '../src/engine/onnx.js';
import { buildStepGraph, paramShapes, slotNames, type HeadSpec, type OptimizerSpec } from '../src/train/onnx/step.js';
import { Rng } from '../src/base/random.js';
import { C, CONV_HIDDEN, H, K, W, log, now, row, type BenchContext, type BenchRow } from './lib.js';

const B = 64;
const MLP_HIDDEN = 512;

/** Multiply-adds ×2 of the step's matrix products (forward, weight and input gradients). */
export function stepFlops(spec: HeadSpec): number {
  const f = spec.type === 'linear' ? 0 : spec.hidden;
  if (spec.type === 'conv') return 2 * B * spec.cells * C * f * 2 + 2 * B * f * K * 3 + 2 * B * B * spec.cells * f * 2;
  if (spec.type === 'mlp') return 2 * B * C * f * 2 + 2 * B * f * K * 3 + 2 * B * B * f * 2;
  return 2 * B * C * K * 2;
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const ort = await loadOrt();
  if ('error' in ort) throw new Error(`onnxruntime-node does not load: ${ort.error}`);
  const rows: BenchRow[] = [];
  const details: Record<string, unknown> = {};
  const opt: OptimizerSpec = { name: 'adam', beta1: 0.9, beta2: 0.999, epsilon: 1e-7, momentum: 0.9, weightDecay: false };
  const cases: { spec: HeadSpec; tap: number }[] = [
    { spec: { type: 'mlp', channels: C, cells: H * W, hidden: MLP_HIDDEN, classes: K, dropout: true, multiLabel: false, pooled: true }, tap: 1 },
    { spec: { type: 'conv', channels: C, cells: H * W, hidden: CONV_HIDDEN, classes: K, dropout: true, multiLabel: false, pooled: false }, tap: 0 },
  ];
  const steps = ctx.quick ? 10 : 30;
  for (const { spec, tap } of cases) {
    const prefix = path.join(ctx.outDir, `step-profile-${spec.type}`);
    const session = await ort.InferenceSession.create(buildStepGraph(spec, opt, tap), { executionProviders: ['cpu'], intraOpNumThreads: 2, graphOptimizationLevel: 'all', enableProfiling: true, profileFilePrefix: prefix, extra: { session: { intra_op: { allow_spinning: '0' } } } });
    const rng = new Rng(1);
    const t = (dims: number[], fill: () => number) => new ort.Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, fill), dims);
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
      x: t(spec.pooled ? [B, C] : [B, spec.cells, C], () => Math.max(0, rng.normal())),
      mix: t([B, B], () => 1 / B),
      mask: t([B, spec.hidden], () => (rng.uniform() < 0.7 ? 1 / 0.7 : 0)),
      targets: t([B, K], () => 1 / K),
      scale: t([], () => 1 / B),
      neg_lr: t([], () => -1e-3),
      bc1: t([], () => 0.1),
      bc2: t([], () => 0.001),
    };
    for (const p of paramShapes(spec)) {
      feeds[p.name] = t(p.shape, () => rng.normal() * 0.02);
      for (const s of slotNames(opt)) feeds[`${s}_${p.name}`] = t(p.shape, () => 0);
    }
    for (let i = 0; i < 3; i++) await session.run(feeds);
    const t0 = now();
    for (let i = 0; i < steps; i++) await session.run(feeds);
    const seconds = (now() - t0) / steps;
    // onnxruntime-node's endProfiling returns nothing: the file is the newest `<prefix>_<date>.json`.
    session.endProfiling();
    await session.release();
    const base = path.basename(prefix);
    const found = (await fs.readdir(ctx.outDir)).filter((f) => f.startsWith(`${base}_`) && f.endsWith('.json')).sort();
    if (!found.length) throw new Error(`ONNX Runtime wrote no profile ${prefix}_*.json`);
    const file = path.join(ctx.outDir, found[found.length - 1]);
    const events = JSON.parse(await fs.readFile(file, 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
    const byOp = new Map<string, number>();
    let total = 0;
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      const op = e.args?.op_name ?? '?';
      byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
      total += e.dur;
    }
    const table = [...byOp.entries()].sort((a, b) => b[1] - a[1]).map(([op, us]) => ({ op, pct: (100 * us) / total }));
    details[spec.type] = { tap, stepSeconds: seconds, table, profile: file };
    log(`step-profile: ${spec.type}: ${(seconds * 1000).toFixed(2)} ms per step; ${table.slice(0, 5).map((r) => `${r.op} ${r.pct.toFixed(0)}%`).join(', ')}`);
    rows.push(
      row({
        workload: `step-profile ${spec.type}`,
        metric: `one ONNX step, batch ${B}, mix at ${tap === 0 ? 'features' : 'hidden'}, Adam`,
        mixhead: B / seconds,
        unit: 'samples/s',
        gflopsMixhead: stepFlops(spec) / seconds / 1e9,
        note: `hot spot: ${table[0].op} ${table[0].pct.toFixed(0)}% of node time, then ${table.slice(1, 4).map((r) => `${r.op} ${r.pct.toFixed(0)}%`).join(', ')}`,
      }),
    );
  }
  ctx.details['step-profile'] = details;
  return rows;
}
