/**
 * The hostile image zoo (make-zoo.ts) through precompute → inspect → train. Every entry's
 * documented outcome is asserted: valid images all cached under their folder's class, everything
 * else skipped with its reason (never silently dropped), hidden files counted.
 *
 * Unreadable file: chmod 000 does not stop root, and these tests usually run as root. So when root,
 * precompute runs as the unprivileged user `nobody` (uid 65534, via spawn's uid/gid): the
 * permission check is then real, not simulated. Where dropping privileges is impossible, the
 * locked file is expected to be cached (root reads it) and the test says so.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '../tmp.js';
import { makeZoo, type Zoo } from './make-zoo.js';
import { mixheadChild, errorLines, stackLines } from '../faults/child.js';
import { FeatureCache } from '../../src/cache/index.js';
import { runTrain } from '../../src/jobs/train.js';

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
/** Whether a child can run as `nobody` (needs root and CAP_SETUID). */
const canDrop = isRoot && spawnSync(process.execPath, ['-e', ''], { uid: NOBODY, gid: NOBODY }).status === 0;
const asUser = canDrop ? { uid: NOBODY, gid: NOBODY } : {};
/** The locked file is unreadable unless we are root and could not drop privileges. */
const lockedReadable = isRoot && !canDrop;

let dir = '';
let zoo: Zoo;
let cache = '';
beforeAll(async () => {
  dir = await tempDir('zoo');
  // mkdtemp makes 0700 folders: let `nobody` in to read the zoo and write the cache.
  await chmod(dir, 0o755);
  zoo = await makeZoo(path.join(dir, 'zoo'));
  await mkdir(path.join(dir, 'caches'), { mode: 0o777 });
  await chmod(path.join(dir, 'caches'), 0o777);
  cache = path.join(dir, 'caches', 'zoo');
});

const rel = (source: string) => path.relative(zoo.root, source).split(path.sep).join('/');
const expected = () =>
  zoo.entries.map((e) => (e.needsUnprivileged && lockedReadable ? { ...e, outcome: 'cached' as const, label: e.path.split('/')[0], reason: undefined } : e));

describe('the image zoo', () => {
  it('the manifest accounts for every file and link in the zoo', async () => {
    const listed = new Set(zoo.entries.map((e) => e.path));
    const walk = async (d: string): Promise<string[]> => {
      const out: string[] = [];
      for (const name of await readdir(d)) {
        const full = path.join(d, name);
        if ((await lstat(full)).isDirectory()) out.push(...(await walk(full)));
        else out.push(rel(full));
      }
      return out;
    };
    const onDisk = await walk(zoo.root);
    expect(onDisk.filter((f) => !listed.has(f))).toEqual([]);
    expect(onDisk.length).toBe(zoo.entries.filter((e) => e.path !== 'empty-class').length);
  });

  it(`precompute caches every valid image and skips every bad one with its documented reason${canDrop ? ' (run as nobody)' : isRoot ? ' (root: the chmod 000 file is readable, so expected cached)' : ''}`, async () => {
    // Through the decode threads (the path of any folder of 64 images or more), hostile files included.
    const run = await mixheadChild(['precompute', '--data', zoo.root, '--cache', cache, '--workers', '1', '--json'], { ...asUser, cwd: process.cwd(), env: { MIXHEAD_DECODE_THREADS: '2' } });
    expect(run.code, run.stderr).toBe(0);
    expect(errorLines(run.stderr)).toEqual([]);
    expect(stackLines(run.stderr)).toEqual([]);
    const r = JSON.parse(run.stdout);
    // The same bytes under cat/ and dog/ are both kept, and reported as a label conflict.
    expect(r.labelConflicts).toHaveLength(1);
    expect(r.labelConflicts[0]).toMatch(/cat\/dup\.png \(cat\) = dog\/dup\.png \(dog\)/);
    expect(run.stderr).toMatch(/1 image\(s\) appear with different labels/);
    const want = expected();
    const cachedWant = want.filter((e) => e.outcome === 'cached');
    const skippedWant = want.filter((e) => e.outcome === 'skipped');

    // Each skipped entry once, with its reason; nothing else skipped.
    const skippedGot = new Map<string, string>(r.skipped.map((s: { source: string; reason: string }) => [rel(s.source), s.reason]));
    expect(skippedGot.size).toBe(r.skipped.length);
    expect([...skippedGot.keys()].sort()).toEqual(skippedWant.map((e) => e.path).sort());
    for (const e of skippedWant) expect(skippedGot.get(e.path), e.path).toMatch(e.reason!);
    // Reasons are one line each.
    expect(r.skipped.every((s: { reason: string }) => !s.reason.includes('\n'))).toBe(true);

    // Every valid image cached, under its folder's class; the counts add up.
    expect(r.total).toBe(cachedWant.length);
    expect(r.computed).toBe(cachedWant.length);
    expect(r.hidden).toBe(zoo.hidden);
    expect(run.stderr).toMatch(new RegExp(`ignored ${zoo.hidden} hidden entries`));
    expect(r.header.classes).toEqual(['cat', 'dog', 'v1.2', 'wild cät']);
    const c = FeatureCache.open(cache, { readonly: true });
    const metas = c.metas();
    expect(metas.map((m) => [m.id, m.labels]).sort()).toEqual(cachedWant.map((e) => [e.path, [e.label]]).sort());
    for (const m of metas) expect(c.get(m.key)!.features.every(Number.isFinite)).toBe(true);
    // Duplicate bytes under two classes stay two samples, one per label.
    const dups = metas.filter((m) => m.id.endsWith('/dup.png'));
    expect(dups.map((m) => m.labels[0]).sort()).toEqual(['cat', 'dog']);
    expect(Array.from(c.get(dups[0].key)!.features)).toEqual(Array.from(c.get(dups[1].key)!.features));
    await c.close();
  });

  it("inspect lists the same skipped files; a rerun recomputes nothing and reports the same skips", async () => {
    const ins = await mixheadChild(['inspect', cache, '--json']);
    expect(ins.code, ins.stderr).toBe(0);
    const s = JSON.parse(ins.stdout);
    const skippedWant = expected().filter((e) => e.outcome === 'skipped');
    expect(s.count).toBe(expected().filter((e) => e.outcome === 'cached').length);
    expect(s.skipped).toBe(skippedWant.length);
    expect(s.skippedFiles.map((f: { source: string }) => rel(f.source)).sort()).toEqual(skippedWant.map((e) => e.path).sort());
    expect(s.classes).toEqual([
      { name: 'cat', count: 17 + (lockedReadable ? 1 : 0) },
      { name: 'dog', count: 3 },
      { name: 'v1.2', count: 2 },
      { name: 'wild cät', count: 1 },
    ]);

    const again = await mixheadChild(['precompute', '--data', zoo.root, '--cache', cache, '--workers', '1', '--json'], { ...asUser, cwd: process.cwd() });
    expect(again.code, again.stderr).toBe(0);
    const r = JSON.parse(again.stdout);
    expect(r.backboneImages).toBe(0);
    expect(r.reused).toBe(s.count);
    expect(r.skipped.map((x: { source: string; reason: string }) => [rel(x.source), x.reason]).sort()).toEqual(
      s.skippedFiles.map((x: { source: string; reason: string }) => [rel(x.source), x.reason]).sort(),
    );
  });

  it('trains a head on the zoo cache', async () => {
    const out = path.join(dir, 'run');
    const r = await runTrain({ cache, out, epochs: 2, batchSize: 8, combined: false, seed: 1, head: 'mlp', hidden: 16 });
    expect(r.report.trainSize).toBe(expected().filter((e) => e.outcome === 'cached').length);
    expect(r.meta.classes).toEqual(['cat', 'dog', 'v1.2', 'wild cät']);
    expect(r.result.history.every((e) => Number.isFinite(e.mixedLoss))).toBe(true);
  });
});
