/**
 * profile: CPU profiles of small training runs (bench/child/profile.ts), top self-time functions.
 * The rows name the top function of each run; the full top lists go to results.json and to the
 * profile section of results.md.
 */
import { mkdirSync, promises as fs, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT, lastJson, log, row, runProcess, tsChildArgs, type BenchContext, type BenchRow } from './lib.js';

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  top: { self: number; pct: number; name: string }[];
}

/** Self time per function (name + file:line) from a .cpuprofile, largest first. */
export function summarizeProfile(file: string): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]!)!;
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

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const out: Record<string, unknown> = {};
  const runs = ctx.quick
    ? ([
        ['linear', 1024, 2],
        ['conv', 128, 2],
      ] as const)
    : ([
        ['linear', 2048, 4],
        ['conv', 512, 2],
      ] as const);
  for (const [head, n, epochs] of runs) {
    const dir = path.join(ctx.workDir, 'profiles', head);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    log(`profile: ${head} head, ${n} samples × ${epochs} epochs`);
    const r = await runProcess(process.execPath, tsChildArgs('child/profile.ts', ['--head', head, '--n', String(n), '--epochs', String(epochs), '--dir', dir]));
    if (r.code !== 0) {
      log(`profile child failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      rows.push(row({ workload: 'profile', metric: `${head} head`, unit: '', mixhead: NaN, note: `child failed (exit ${r.code})` }));
      continue;
    }
    // The main thread's profile is the largest (tsx may write a tiny one for its loader).
    const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
    const sized = files.map((f) => ({ f, s: statSync(path.join(dir, f)).size })).sort((a, b) => b.s - a.s);
    if (!sized.length) continue;
    const summary = summarizeProfile(path.join(dir, sized[0]!.f));
    const key = `${head} head, N=${n}, ${epochs} epochs`;
    out[key] = { ...summary, file: path.join(dir, sized[0]!.f), timing: lastJson(r.stdout) };
    const first = summary.top[0]!;
    rows.push(row({ workload: 'profile', metric: `${key}: top self-time function`, mixhead: first.pct, unit: '% of samples', note: `\`${first.name}\`; ${(summary.totalMs / 1000).toFixed(1)} s sampled` }));
  }
  ctx.details.profile = out;
  return rows;
}
