// The Kubernetes recipe of docs/scale.md, checked without a cluster (none can run here): the
// Indexed Job's pods, expanded as Kubernetes would for every JOB_COMPLETION_INDEX, must ask for
// shards that cover every index exactly once, and the merge Job must read exactly their caches.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { inShard, parseShard, type Shard } from '../../src/jobs/precompute.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const K8S = path.join(ROOT, 'deploy/k8s');

interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  volumeMounts?: { name: string; mountPath: string }[];
}
interface JobDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    completionMode?: string;
    completions?: number;
    parallelism?: number;
    template: { spec: { restartPolicy: string; containers: Container[]; volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[] } };
  };
}

/**
 * Kubernetes' expansion of container command/args: $(NAME) becomes the variable's value when the
 * container defines it, $$ escapes a dollar, and an unknown reference stays as written.
 */
export function expandK8s(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => (m === '$$' ? '$' : name !== undefined && name in env ? env[name]! : m));
}

function flag(args: string[], name: string): string {
  const i = args.indexOf(name);
  if (i < 0 || i + 1 >= args.length) throw new Error(`no ${name} in [${args.join(' ')}]`);
  return args[i + 1]!;
}

/** The cache folder as the pod sees it, mapped to its volume claim: `claim:/sub/path`. */
function onClaim(job: JobDoc, container: Container, dir: string): string {
  const mount = container.volumeMounts?.find((m) => dir === m.mountPath || dir.startsWith(`${m.mountPath}/`));
  if (!mount) throw new Error(`${job.metadata.name}: ${dir} is on no mounted volume`);
  const claim = job.spec.template.spec.volumes?.find((v) => v.name === mount.name)?.persistentVolumeClaim?.claimName;
  if (!claim) throw new Error(`${job.metadata.name}: volume ${mount.name} is not a persistent volume claim`);
  return `${claim}:${dir.slice(mount.mountPath.length) || '/'}`;
}

/** What the two Jobs do, checked: the shards of the pods, their caches, and the merge's inputs. */
export function checkRecipe(precomputeDoc: JobDoc, mergeDoc: JobDoc) {
  const spec = precomputeDoc.spec;
  if (precomputeDoc.kind !== 'Job' || spec.completionMode !== 'Indexed') throw new Error('the precompute Job must have completionMode: Indexed');
  const n = spec.completions;
  if (!(Number.isInteger(n) && n! >= 1)) throw new Error(`completions must be a whole number ≥ 1, got ${n}`);
  const container = spec.template.spec.containers[0]!;
  const baseEnv = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? '']));
  const shards: Shard[] = [];
  const caches: string[] = [];
  for (let i = 0; i < n!; i++) {
    // The Job controller gives pod i JOB_COMPLETION_INDEX = i.
    const env = { ...baseEnv, JOB_COMPLETION_INDEX: String(i) };
    const argv = [...(container.command ?? []), ...(container.args ?? [])].map((a) => expandK8s(a, env));
    const unresolved = argv.find((a) => a.includes('$('));
    if (unresolved) throw new Error(`pod ${i}: ${unresolved} is not expanded (no such variable in the container's env)`);
    if (argv[0] !== 'mixhead' || argv[1] !== 'precompute') throw new Error(`pod ${i} runs ${argv.slice(0, 2).join(' ')}, not mixhead precompute`);
    shards.push(parseShard(flag(argv, '--shard')));
    caches.push(onClaim(precomputeDoc, container, flag(argv, '--cache')));
  }
  const merge = mergeDoc.spec.template.spec.containers[0]!;
  const margv = [...(merge.command ?? []), ...(merge.args ?? [])];
  if (margv.slice(0, 3).join(' ') !== 'mixhead cache merge') throw new Error(`the merge Job runs ${margv.slice(0, 3).join(' ')}`);
  const [out, ...inputs] = margv.slice(3).map((d) => onClaim(mergeDoc, merge, d));
  return { n: n!, parallelism: spec.parallelism, shards, caches, out: out!, inputs };
}

const load = (file: string) => parse(readFileSync(path.join(K8S, file), 'utf8')) as JobDoc;

describe('Kubernetes Indexed Job recipe (deploy/k8s)', () => {
  it('expands $(VAR) as Kubernetes does', () => {
    expect(expandK8s('/c/shard-$(JOB_COMPLETION_INDEX)-of-$(SHARDS)', { JOB_COMPLETION_INDEX: '3', SHARDS: '8' })).toBe('/c/shard-3-of-8');
    expect(expandK8s('$$(SHARDS) $(NOPE)', { SHARDS: '8' })).toBe('$(SHARDS) $(NOPE)');
  });

  it('its pods cover every shard index exactly once, and the merge reads exactly their caches', () => {
    const r = checkRecipe(load('precompute-job.yaml'), load('merge-job.yaml'));
    expect(r.n).toBe(8);
    expect(r.parallelism).toBeLessThanOrEqual(r.n);
    // Every pod names the same shard count, which is the number of pods.
    expect(r.shards.every((s) => s.count === r.n)).toBe(true);
    expect(r.shards.map((s) => s.index).sort((a, b) => a - b)).toEqual(Array.from({ length: r.n }, (_, i) => i));
    expect(new Set(r.caches).size).toBe(r.n); // one cache per pod
    expect([...r.inputs].sort()).toEqual([...r.caches].sort());
    expect(r.inputs).toHaveLength(r.n);
    expect(r.caches).not.toContain(r.out);
    // And so every image lands in exactly one pod's shard.
    const ids = Array.from({ length: 2000 }, (_, i) => `class-${i % 7}/img-${i}.jpg`);
    for (const id of ids) expect(r.shards.filter((s) => inShard(id, s)).length).toBe(1);
  });

  it('the check catches a manifest whose pieces disagree', () => {
    const pre = load('precompute-job.yaml');
    const merge = load('merge-job.yaml');
    // completions changed alone: pods ask for 9 indices of 8 shards.
    const nine = structuredClone(pre);
    nine.spec.completions = 9;
    expect(() => checkRecipe(nine, merge)).toThrow(/--shard 8\/8/);
    // SHARDS changed alone: the eighth pod asks for shard 7 of 7, which does not exist.
    const seven = structuredClone(pre);
    seven.spec.template.spec.containers[0]!.env = [{ name: 'SHARDS', value: '7' }];
    expect(() => checkRecipe(seven, merge)).toThrow(/--shard 7\/7/);
    // Both lowered to 4 while the merge still lists 8 caches.
    const four = structuredClone(pre);
    four.spec.completions = 4;
    four.spec.template.spec.containers[0]!.env = [{ name: 'SHARDS', value: '4' }];
    const r4 = checkRecipe(four, merge);
    expect([...r4.inputs].sort()).not.toEqual([...r4.caches].sort());
    // A merge that forgets a shard.
    const short = structuredClone(merge);
    short.spec.template.spec.containers[0]!.args!.pop();
    expect(checkRecipe(pre, short).inputs).toHaveLength(7);
    // A misspelt variable stays unexpanded and is refused.
    const typo = structuredClone(pre);
    typo.spec.template.spec.containers[0]!.args = typo.spec.template.spec.containers[0]!.args!.map((a) => a.replace('JOB_COMPLETION_INDEX', 'JOB_INDEX'));
    expect(() => checkRecipe(typo, merge)).toThrow(/\$\(JOB_INDEX\).* is not expanded/);
  });
});
