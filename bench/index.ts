/**
 * `npm run bench`: mixhead against a PyTorch (CPU) reference, measured in the same run.
 *
 *   npm run bench [-- <workload>... ] [--quick] [--no-torch] [--cgroup] [--budget-mib N]
 *                                     [--work DIR] [--keep] [--out DIR] [--list]
 *
 * Workloads are the files bench/<name>.ts that export `run(ctx)` (the contract is in bench/lib.ts);
 * they are found here at start, so adding one needs no change to this file. With no names, all run
 * in name order. A full run writes bench/results.json and bench/results.md; a quick run or a chosen
 * subset writes to bench/out/ instead, so the committed full results stay whole (--out overrides).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { selectBackend } from '../src/tfjs/backend.js';
import { BENCH_DIR, CEILING_GFLOPS, fmt, log, mobilenetV2Macs, now, pythonCandidate, reference, row, type BenchContext, type BenchRow, type TorchInfo, type Workload } from './lib.js';
import type { ProfileSummary } from './profile.js';

const NOT_WORKLOADS = new Set(['index.ts', 'lib.ts']);

/** Every bench/<name>.ts (not index/lib, not .d.ts) that exports a `run` function, by name. */
async function discover(): Promise<Map<string, Workload>> {
  const found = new Map<string, Workload>();
  const files = readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !NOT_WORKLOADS.has(f))
    .sort();
  for (const f of files) {
    const mod = (await import(pathToFileURL(path.join(BENCH_DIR, f)).href)) as { run?: unknown };
    if (typeof mod.run === 'function') found.set(f.slice(0, -3), mod.run as Workload);
  }
  return found;
}

function markdown(rows: BenchRow[], details: Record<string, unknown>, machine: Record<string, unknown>, quick: boolean): string {
  const lines: string[] = [];
  lines.push(`# mixhead benchmarks${quick ? ' (quick)' : ''}`);
  lines.push('');
  lines.push(`Machine: ${machine.cpu}, ${machine.nproc} cores, ${machine.memGiB} GiB; Node ${machine.node}, TF.js backend ${machine.backend}. ${machine.date}`);
  const t = details.torch as TorchInfo | undefined;
  lines.push(
    t
      ? `Reference: PyTorch ${t.torch} / torchvision ${t.torchvision}, ${t.threads} threads, BLAS ${t.blasLibs.map((l) => path.basename(path.dirname(l)) + '/' + path.basename(l)).join(', ') || t.blasInfo}, oneDNN (mkldnn) ${t.mkldnn ? 'available' : 'not available'}; 2048² sgemm in this run ${t.sgemm2048GFlops.toFixed(1)} GFLOP/s.`
      : 'Reference: PyTorch not available; reference columns are empty.',
  );
  lines.push(`GFLOP/s are useful work (formulas in bench/README.md) and, in brackets, the share of ${CEILING_GFLOPS} GFLOP/s, this machine's measured float32 sgemm ceiling on 2 threads.`);
  lines.push('');
  const pct = (g?: number) => (g == null ? '' : ` (${((100 * g) / CEILING_GFLOPS).toFixed(1)}%)`);
  lines.push('| workload | metric | mixhead | PyTorch | ratio | target | GFLOP/s mixhead | GFLOP/s PyTorch | note |');
  lines.push('| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | --- |');
  for (const r of rows) {
    const target = r.target ? `${r.target} ${r.pass == null ? '' : r.pass ? '✅' : '❌'}` : '';
    lines.push(
      `| ${r.workload} | ${r.metric} (${r.unit}) | ${fmt(r.mixhead, 2)} | ${fmt(r.reference, 2)} | ${r.ratio != null ? r.ratio.toFixed(2) + '×' : ''} | ${target} | ${r.gflopsMixhead != null ? r.gflopsMixhead.toFixed(2) + pct(r.gflopsMixhead) : ''} | ${r.gflopsReference != null ? r.gflopsReference.toFixed(2) + pct(r.gflopsReference) : ''} | ${r.note ?? ''} |`,
    );
  }
  const prof = details.profile as Record<string, ProfileSummary> | undefined;
  if (prof && Object.keys(prof).length) {
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

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'no-torch': { type: 'boolean', default: false },
      cgroup: { type: 'boolean', default: false },
      'budget-mib': { type: 'string' },
      work: { type: 'string' },
      keep: { type: 'boolean', default: false },
      out: { type: 'string' },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const workloads = await discover();
  if (values.help || values.list) {
    if (values.help) console.log('usage: npm run bench [-- <workload>...] [--quick] [--no-torch] [--cgroup] [--budget-mib N] [--work DIR] [--keep] [--out DIR] [--list]');
    console.log(`workloads: ${[...workloads.keys()].join(', ')}`);
    return;
  }
  const asked = [...positionals, ...(values.only ? values.only.split(',') : [])].map((s) => s.trim()).filter(Boolean);
  const unknown = asked.filter((w) => !workloads.has(w));
  if (unknown.length) {
    console.error(`bench: unknown workload ${unknown.join(', ')}; there are ${[...workloads.keys()].join(', ')}`);
    process.exitCode = 2;
    return;
  }
  const selected = asked.length ? [...workloads.keys()].filter((w) => asked.includes(w)) : [...workloads.keys()];
  const quick = values.quick!;
  const outDir = path.resolve(values.out ?? (quick || asked.length ? path.join(BENCH_DIR, 'out') : BENCH_DIR));
  const t0 = now();
  const backend = await selectBackend();
  const workDir = path.resolve(values.work ?? path.join(os.tmpdir(), 'mixhead-bench'));
  mkdirSync(workDir, { recursive: true });
  mkdirSync(outDir, { recursive: true }); // workloads write their own files there (step-profile: ORT profiles)
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
  const details: Record<string, unknown> = { quick, machine, ceilingGFlops: CEILING_GFLOPS, workloads: selected };
  log(`machine: ${machine.nproc} × ${cpu}; backend ${backend.name}; work dir ${workDir}; workloads ${selected.join(', ')}`);

  let python: string | null = null;
  if (!values['no-torch']) {
    const candidate = pythonCandidate();
    const info = await reference<TorchInfo>({ python: candidate }, ['info']);
    if (!info) {
      log(`PyTorch reference unavailable (${candidate} cannot import torch/torchvision: apt-get install python3-torch python3-torchvision python3-pil libopenblas0-pthread); running mixhead only`);
    } else {
      python = candidate;
      details.torch = info;
      log(`reference: torch ${info.torch}, ${info.threads} threads, BLAS ${info.blasLibs.join(', ') || info.blasInfo}, oneDNN ${info.mkldnn}; sgemm 2048² ${info.sgemm2048GFlops.toFixed(1)} GFLOP/s; MobileNetV2 features ${(info.mobilenetV2FeaturesMacs224 / 1e6).toFixed(1)} M MACs (ours: ${(mobilenetV2Macs() / 1e6).toFixed(1)} M)`);
    }
  }
  const ctx: BenchContext = {
    quick,
    outDir,
    python,
    workDir,
    backend: backend.name,
    details,
    budgetMiB: Number(values['budget-mib'] ?? (quick ? 512 : 1024)),
    cgroup: values.cgroup!,
  };
  const rows: BenchRow[] = [];
  const timings: Record<string, number> = {};
  for (const name of selected) {
    const t = now();
    try {
      rows.push(...(await workloads.get(name)!(ctx)));
    } catch (err) {
      log(`${name} FAILED: ${(err as Error).stack ?? err}`);
      rows.push(row({ workload: name, metric: 'failed', unit: '', mixhead: NaN, note: (err as Error).message.split('\n')[0] }));
    } finally {
      timings[name] = now() - t;
      log(`${name}: ${timings[name]!.toFixed(0)} s`);
    }
  }
  const total = now() - t0;
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'results.json'), JSON.stringify({ ...details, rows, seconds: timings, totalSeconds: total }, null, 2) + '\n');
  const md = markdown(rows, details, machine, quick) + `\nTotal ${total.toFixed(0)} s (${Object.entries(timings).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')}).\n`;
  writeFileSync(path.join(outDir, 'results.md'), md);
  console.log(md);
  log(`wrote ${path.relative(process.cwd(), path.join(outDir, 'results.md'))} and results.json`);
  if (!values.keep) rmSync(path.join(workDir, 'caches'), { recursive: true, force: true });
}

await main();
