/**
 * Disk full during precompute, for real: the cache lives on a 2 MB tmpfs (we mount it; needs root
 * and mount permission, else skipped with that reason). float32 entries are 250 KB, so the disk fills
 * after a few batches.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../tmp.js';
import { writeFashionSample } from '../../src/data/fashion.js';
import { FeatureCache } from '../../src/cache/index.js';
import { errorLines, mixheadChild, stackLines } from './child.js';

function tryMount(dir: string, size: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let dir = '';
let mnt = '';
let mounted = false;
beforeAll(async () => {
  dir = await tempDir('diskfull');
  mnt = path.join(dir, 'small-disk');
  mounted = process.getuid?.() === 0 && tryMount(mnt, '2m');
  if (mounted) await writeFashionSample({ out: path.join(dir, 'data'), perClass: 1, split: 'train' });
});
afterAll(() => {
  if (mounted) execFileSync('umount', [mnt]);
});

describe('disk full during precompute', () => {
  it('exits 1 with one line naming the cache and "no space left"; the cache opens with whole entries and resumes once there is room', async (ctx) => {
    if (!mounted) ctx.skip(); // not root, or mount(8) refused: nothing to fill
    const cache = path.join(mnt, 'cache');
    const args = ['precompute', '--data', path.join(dir, 'data'), '--cache', cache, '--workers', '1', '--dtype', 'float32', '--batch-size', '4', '--json'];
    const full = await mixheadChild(args);
    expect(full.code, full.stderr).toBe(1);
    const lines = errorLines(full.stderr);
    expect(lines, full.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^mixhead: ${cache.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot write the feature cache: no space left on device \\(\\d+ KB free`));
    expect(lines[0]).toMatch(/run again to resume$/);
    expect(stackLines(full.stderr)).toEqual([]);

    // Whole entries only: every one decodes to a full, finite map; ids unique.
    const c = FeatureCache.open(cache, { readonly: true });
    const metas = c.metas();
    expect(c.count).toBe(metas.length);
    expect(metas.length).toBeGreaterThan(0);
    expect(metas.length).toBeLessThan(10);
    expect(new Set(metas.map((m) => m.id)).size).toBe(metas.length);
    for (const m of metas) {
      const f = c.get(m.key)!.features;
      expect(f.length).toBe(7 * 7 * 1280);
      expect(f.every(Number.isFinite)).toBe(true);
    }
    await c.close();

    // Room again (tmpfs grows in place): the rerun computes only what is missing.
    execFileSync('mount', ['-o', 'remount,size=16m', mnt]);
    const again = await mixheadChild(args);
    expect(again.code, again.stderr).toBe(0);
    const r = JSON.parse(again.stdout);
    expect(r.total).toBe(10);
    expect(r.computed).toBe(10 - metas.length);
    expect(r.reused).toBe(metas.length);
  });
});
