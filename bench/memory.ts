/**
 * memory: a float16 cache several times a memory budget, its pages dropped from the page cache,
 * then the conv head trains on it for 1 epoch in a child process (bench/child/memory.ts); peak RSS,
 * anonymous and file-backed. `--cgroup` runs the child under a cgroup-v1 hard limit (root only).
 */
import { mkdirSync, promises as fs, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { HWC, diskBytes, fmt, lastJson, log, row, runProcess, syntheticCache, tsChildArgs, type BenchContext, type BenchRow } from './lib.js';

/** Runs node `args` in its own cgroup-v1 memory group with a hard limit, when we may create one. */
async function runLimited(args: string[], limitBytes: number | undefined): Promise<{ code: number; stdout: string; stderr: string; limited: boolean }> {
  if (!limitBytes) return { ...(await runProcess(process.execPath, args)), limited: false };
  const group = path.join('/sys/fs/cgroup/memory', `mixhead-bench-${process.pid}`);
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
    // The group empties a moment after the child exits.
    for (let i = 0; i < 20; i++) {
      try {
        await fs.rmdir(group);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}

type ChildReport = {
  vmHWM: number;
  maxRSS: number;
  peakSampled: { rss: number; anon: number; file: number };
  run: { stepSeconds: number[]; evalSeconds: number[]; wallSeconds: number };
  cacheFeatureSetSeconds: number;
  entries: number;
};

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const multiple = ctx.quick ? 2 : 3;
  const budget = ctx.budgetMiB * 2 ** 20;
  const perEntry = 2 * HWC;
  const n = Math.ceil((multiple * budget) / perEntry);
  const dir = path.join(ctx.workDir, 'caches', `memory-f16-${n}`);
  log(`memory: writing a float16 cache of ${n} entries (${((n * perEntry) / 2 ** 30).toFixed(2)} GiB) for a ${ctx.budgetMiB} MiB budget`);
  const w = await syntheticCache(dir, 'float16', n, 21, 256);
  const disk = diskBytes(dir);
  try {
    log(`memory: child trains the conv head for 1 epoch${ctx.cgroup ? ` under a ${ctx.budgetMiB} MiB cgroup limit` : ''}`);
    // Drop this file's pages from the page cache (only ours: dd's nocache is a per-file fadvise), so
    // the child faults them in itself and, under the cgroup, they count against its limit.
    await runProcess('dd', [`if=${path.join(dir, 'data.mdb')}`, 'iflag=nocache', 'count=0', 'status=none']);
    const r = await runLimited(tsChildArgs('child/memory.ts', ['--cache', dir, '--head', 'conv', '--epochs', '1']), ctx.cgroup ? budget : undefined);
    if (r.code !== 0) {
      log(`memory child failed (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-4).join(' | ')}`);
      ctx.details.memory = { entries: n, failed: true, code: r.code, limited: r.limited, stderr: r.stderr.slice(-2000) };
      return [row({ workload: 'memory', metric: `conv head on ${fmt(disk.allocated / 2 ** 30, 2)} GiB cache`, unit: '', mixhead: NaN, note: `child FAILED (exit ${r.code}${r.limited ? `, ${ctx.budgetMiB} MiB cgroup limit` : ''})` })];
    }
    const c = lastJson<ChildReport>(r.stdout);
    ctx.details.memory = { entries: n, cacheBytes: disk.allocated, writeSeconds: w.seconds, budgetBytes: budget, limited: r.limited, child: c };
    const gib = (b: number) => b / 2 ** 30;
    return [
      row({
        workload: 'memory',
        metric: `peak RSS training conv head on a ${gib(disk.allocated).toFixed(2)} GiB float16 cache`,
        mixhead: c.vmHWM / 2 ** 20,
        unit: 'MiB',
        ratio: disk.allocated / c.vmHWM,
        target: `anonymous peak ≤ budget ${ctx.budgetMiB} MiB, cache ${multiple}× it`,
        pass: c.peakSampled.anon <= budget,
        note: `VmHWM; peak anonymous ${fmt(c.peakSampled.anon / 2 ** 20, 0)} MiB, peak file-backed (lmdb map, reclaimable) ${fmt(c.peakSampled.file / 2 ** 20, 0)} MiB; ${r.limited ? `ran under a hard ${ctx.budgetMiB} MiB cgroup limit` : 'no hard limit'}; ratio = cache / peak RSS`,
      }),
      row({
        workload: 'scaling',
        metric: `conv head, ${n} entries from the cache, 1 epoch`,
        mixhead: n / c.run.stepSeconds[0]!,
        unit: 'samples/s',
        note: `steps ${c.run.stepSeconds[0]!.toFixed(1)} s + clean eval ${c.run.evalSeconds[0]!.toFixed(1)} s; pooled vectors up front ${c.cacheFeatureSetSeconds.toFixed(1)} s`,
      }),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
