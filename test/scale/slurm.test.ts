// The Slurm recipe of docs/scale.md, run for real on a private single-node cluster
// (scripts/slurm/start-local.sh): a 4-task precompute array and its dependent merge must give the
// unsharded cache key for key and byte for byte; a task killed midway and resubmitted must too.
// Needs slurm-wlm and munge: `npm run test:scale` (MIXHEAD_SCALE=1); skipped in `npm test`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareHeaders, FeatureCache } from '../../src/cache/index.js';
import { writeFashionSample } from '../../src/data/fashion.js';
import { loadDataset } from '../../src/data/index.js';
import { inShard } from '../../src/jobs/precompute.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SLURM = path.join(ROOT, 'scripts/slurm');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const SHARDS = 4;
const PER_CLASS = 25; // 250 images: a few minutes on 2 cores, all phases together

const enabled = !!process.env.MIXHEAD_SCALE;

let work = '';
let slurmDir = '';
let env: NodeJS.ProcessEnv = {};
let data = '';
let reference = '';

function sh(cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(cmd, args, { env: { ...env, ...extraEnv }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr || r.stdout}`);
  return r.stdout.trim();
}

/** JobState of every job record with this id (an array gives one per task). */
function jobStates(id: string): Map<string, string> {
  const out = sh('scontrol', ['show', 'job', '-o', id]);
  const states = new Map<string, string>();
  for (const line of out.split('\n').filter(Boolean)) {
    const task = /ArrayTaskId=(\S+)/.exec(line)?.[1] ?? 'job';
    states.set(task, /JobState=(\S+)/.exec(line)![1]!);
  }
  return states;
}

const FINAL = /^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|PREEMPTED|BOOT_FAIL|DEADLINE)$/;

async function waitFor<T>(what: string, timeoutS: number, probe: () => T | undefined): Promise<T> {
  const end = Date.now() + timeoutS * 1000;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutS} s waiting for ${what}; logs in ${work}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function waitDone(id: string, timeoutS = 400): Promise<Map<string, string>> {
  return waitFor(`job ${id}`, timeoutS, () => {
    const s = jobStates(id);
    return [...s.values()].every((st) => FINAL.test(st)) ? s : undefined;
  });
}

/** Entries in a cache; 0 while it does not exist yet (or its writer is still creating it). */
function count(dir: string): number {
  let c: FeatureCache;
  try {
    c = FeatureCache.open(dir, { readonly: true });
  } catch {
    return 0;
  }
  try {
    return c.count;
  } finally {
    void c.close();
  }
}

/** Same header (createdAt aside), keys, metadata, encoded bytes and skipped list. */
async function expectSameCache(got: string, want: string): Promise<number> {
  const a = FeatureCache.open(want, { readonly: true });
  const b = FeatureCache.open(got, { readonly: true });
  try {
    expect(compareHeaders(a.header, b.header)).toEqual([]);
    const keys = a.keys();
    expect(b.keys()).toEqual(keys);
    let differing = 0;
    for (const key of keys) {
      const k = Buffer.from(key, 'utf8');
      expect(b.getMeta(key)).toEqual(a.getMeta(key));
      // rawFeatures is only valid until the next read: copy before reading the other cache.
      const x = Buffer.from(a.rawFeatures(k)!);
      const y = Buffer.from(b.rawFeatures(k)!);
      if (!x.equals(y)) differing++;
    }
    expect(differing).toBe(0);
    expect(b.skipped()).toEqual(a.skipped());
    return keys.length;
  } finally {
    await a.close();
    await b.close();
  }
}

describe.skipIf(!enabled)('Slurm array precompute + dependent merge (single-node cluster)', () => {
  beforeAll(async () => {
    for (const bin of ['munged', 'slurmctld', 'slurmd', 'sbatch']) {
      if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) {
        throw new Error(`${bin} is not installed: apt-get install -y slurm-wlm munge (npm run test:scale needs a real Slurm)`);
      }
    }
    if (!existsSync(CLI)) throw new Error(`${CLI} missing: run npm run build first`);
    work = await mkdtemp(path.join(tmpdir(), 'mixhead-slurm-test-'));
    slurmDir = path.join(work, 'cluster');
    const exports = execFileSync(path.join(SLURM, 'start-local.sh'), [slurmDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const conf = /export SLURM_CONF=(\S+)/.exec(exports)?.[1];
    if (!conf) throw new Error(`start-local.sh printed no SLURM_CONF: ${exports}`);
    env = {
      ...process.env,
      SLURM_CONF: conf,
      MIXHEAD_BIN: `${process.execPath} ${CLI}`,
      // Small batches: more commit points, so a kill lands between two of them.
      MIXHEAD_PRECOMPUTE_ARGS: '--batch-size 8',
      MIXHEAD_BACKEND: 'wasm',
    };
    data = path.join(work, 'data');
    await writeFashionSample({ out: data, perClass: PER_CLASS, split: 'train' });
    // The unsharded cache, made outside Slurm, is what every merge must equal.
    reference = path.join(work, 'unsharded');
    sh(process.execPath, [CLI, 'precompute', '--data', data, '--cache', reference, '--workers', '2', '--batch-size', '16']);
    expect(count(reference)).toBe(10 * PER_CLASS);
  }, 600_000);

  afterAll(async () => {
    if (slurmDir) spawnSync(path.join(SLURM, 'stop-local.sh'), [slurmDir], { stdio: 'inherit' });
    if (work && !process.env.MIXHEAD_KEEP) await rm(work, { recursive: true, force: true });
  });

  it('a 4-task array and its afterok merge give the unsharded cache, key for key', async () => {
    const out = path.join(work, 'run-a');
    const [array, merge] = sh(path.join(SLURM, 'submit.sh'), [data, out, String(SHARDS), '--cpus-per-task=1']).split(' ');
    const tasks = await waitDone(array!);
    expect([...tasks.entries()].sort()).toEqual(['0', '1', '2', '3'].map((t) => [t, 'COMPLETED']));
    expect(await waitDone(merge!)).toEqual(new Map([['job', 'COMPLETED']]));
    // Every shard holds exactly its ids: disjoint, and together the dataset.
    const ids = (await loadDataset(data)).items.map((it) => it.id);
    for (let i = 0; i < SHARDS; i++) {
      expect(count(path.join(out, `shard-${i}-of-${SHARDS}`))).toBe(ids.filter((id) => inShard(id, { index: i, count: SHARDS })).length);
    }
    expect(await expectSameCache(path.join(out, 'merged'), reference)).toBe(10 * PER_CLASS);
  }, 600_000);

  it('a task killed midway, resubmitted alone, resumes; the merge still equals', async () => {
    const out = path.join(work, 'run-b');
    const victim = 2;
    const shardDir = path.join(out, `shard-${victim}-of-${SHARDS}`);
    const ids = (await loadDataset(data)).items.map((it) => it.id);
    const shardSize = ids.filter((id) => inShard(id, { index: victim, count: SHARDS })).length;
    const [array, merge] = sh(path.join(SLURM, 'submit.sh'), [data, out, String(SHARDS), '--cpus-per-task=1']).split(' ');
    // Kill the task once its first batches are committed and before it is done.
    await waitFor(`task ${victim} to commit a batch`, 400, () => (count(shardDir) > 0 ? true : undefined));
    sh('scancel', ['--signal=KILL', '--full', `${array}_${victim}`]);
    const tasks = await waitDone(array!);
    expect(tasks.get(String(victim))).toMatch(/FAILED|CANCELLED/);
    const partial = count(shardDir);
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(shardSize);
    // The merge waits on afterok, which can no longer be met: it must not have run.
    expect(jobStates(merge!).get('job')).toBe('PENDING');

    // Resubmit that index alone (the shard count comes from MIXHEAD_SHARDS, not the 1-task array)
    // and point the waiting merge at the resubmission.
    const again = sh('sbatch', ['--parsable', `--array=${victim}`, '--cpus-per-task=1', `--output=${out}/logs/precompute-%A_%a.out`, path.join(SLURM, 'precompute-array.sbatch')], {
      MIXHEAD_DATA: data,
      MIXHEAD_OUT: out,
      MIXHEAD_SHARDS: String(SHARDS),
    }).split(';')[0]!;
    sh('scontrol', ['update', `JobId=${merge}`, `Dependency=afterok:${again}`]);
    expect(await waitDone(again)).toEqual(new Map([[String(victim), 'COMPLETED']]));
    expect(await waitDone(merge!)).toEqual(new Map([['job', 'COMPLETED']]));
    const log = readFileSync(path.join(out, 'logs', `precompute-${again}_${victim}.out`), 'utf8');
    // The rerun reused what the killed task had committed and computed only the rest.
    const m = /(\d+) entries \((\d+) computed, (\d+) already cached/.exec(log);
    expect(m, log).not.toBeNull();
    expect(Number(m![1])).toBe(shardSize);
    expect(Number(m![3])).toBe(partial);
    expect(Number(m![2])).toBe(shardSize - partial);
    expect(await expectSameCache(path.join(out, 'merged'), reference)).toBe(10 * PER_CLASS);
  }, 600_000);
});
